//! Reading a response body under the limits: wire bytes up to `max_body_bytes`, decoded
//! (gzip) bytes up to `max_decompressed_bytes`, streamed chunk by chunk so neither a large body
//! nor a compression bomb is held in memory past its cap. A cut body says where it was cut.

use super::NetworkLimits;
use reqwest::header;
use std::fmt;
use std::io::Write;

/// Where a body was cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// At `max_body_bytes` read from the wire.
    Wire { limit: usize },
    /// At `max_decompressed_bytes` after decoding.
    Decoded { limit: usize },
}

impl fmt::Display for Cut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Wire { limit } => write!(
                f,
                "cut at {limit} bytes read ([tools.network] max_body_bytes)"
            ),
            Self::Decoded { limit } => write!(
                f,
                "cut at {limit} decompressed bytes ([tools.network] max_decompressed_bytes)"
            ),
        }
    }
}

/// Reads the body of `response` within `limits`.
pub(crate) async fn read_body(
    mut response: reqwest::Response,
    limits: NetworkLimits,
) -> Result<(Vec<u8>, Option<Cut>), String> {
    let gzip = response
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "gzip" | "x-gzip"));
    let mut sink = Decoder::new(gzip, limits.max_decompressed_bytes);
    let mut wire = 0usize;
    let mut cut = None;
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        let mut text = "reading the body failed".to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    })? {
        let room = limits.max_body_bytes - wire;
        let take = chunk.len().min(room);
        wire += take;
        if sink.feed(&chunk[..take])? {
            cut = Some(Cut::Decoded {
                limit: limits.max_decompressed_bytes,
            });
            break;
        }
        if take < chunk.len() {
            cut = Some(Cut::Wire {
                limit: limits.max_body_bytes,
            });
            break;
        }
    }
    let (body, full) = sink.finish(cut.is_some())?;
    if full && cut.is_none() {
        cut = Some(Cut::Decoded {
            limit: limits.max_decompressed_bytes,
        });
    }
    Ok((body, cut))
}

/// Identity or gzip, into a buffer that refuses to grow past its cap.
enum Decoder {
    Identity(Capped),
    Gzip(Box<flate2::write::GzDecoder<Capped>>),
}

impl Decoder {
    fn new(gzip: bool, cap: usize) -> Self {
        let sink = Capped {
            bytes: Vec::new(),
            cap,
            full: false,
        };
        if gzip {
            Self::Gzip(Box::new(flate2::write::GzDecoder::new(sink)))
        } else {
            Self::Identity(sink)
        }
    }

    /// Feeds wire bytes; `true` once the decoded cap is reached.
    fn feed(&mut self, bytes: &[u8]) -> Result<bool, String> {
        match self {
            Self::Identity(sink) => {
                let _ = sink.write_all(bytes);
                Ok(sink.full)
            }
            Self::Gzip(decoder) => match decoder.write_all(bytes) {
                Ok(()) => Ok(decoder.get_ref().full),
                Err(_) if decoder.get_ref().full => Ok(true),
                Err(e) => Err(format!("the gzip body does not decode: {e}")),
            },
        }
    }

    /// The decoded bytes and whether the cap was reached. A body cut on the wire may end
    /// mid-stream; that is not an error.
    fn finish(self, cut: bool) -> Result<(Vec<u8>, bool), String> {
        match self {
            Self::Identity(sink) => Ok((sink.bytes, sink.full)),
            Self::Gzip(mut decoder) => {
                match decoder.try_finish() {
                    Ok(()) => {}
                    Err(_) if cut || decoder.get_ref().full => {}
                    Err(e) => return Err(format!("the gzip body does not decode: {e}")),
                }
                let sink = decoder.get_ref();
                Ok((sink.bytes.clone(), sink.full))
            }
        }
    }
}

/// A buffer that takes bytes up to `cap` and then fails every write.
struct Capped {
    bytes: Vec<u8>,
    cap: usize,
    full: bool,
}

impl Write for Capped {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = self.cap - self.bytes.len();
        if room == 0 && !data.is_empty() {
            self.full = true;
            return Err(std::io::Error::other("decoded size limit reached"));
        }
        let take = data.len().min(room);
        self.bytes.extend_from_slice(&data[..take]);
        Ok(take)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gzip_decodes_and_stops_at_the_decoded_cap() {
        let mut small = Decoder::new(true, 1024);
        assert!(!small.feed(&gzip(b"hello")).unwrap());
        assert_eq!(small.finish(false).unwrap(), (b"hello".to_vec(), false));

        let bomb = gzip(&vec![0u8; 10 << 20]);
        assert!(bomb.len() < 64 * 1024);
        let mut capped = Decoder::new(true, 4096);
        assert!(capped.feed(&bomb).unwrap());
        let (bytes, full) = capped.finish(true).unwrap();
        assert_eq!((bytes.len(), full), (4096, true));
    }

    #[test]
    fn a_corrupt_gzip_body_is_an_error() {
        let mut decoder = Decoder::new(true, 1024);
        let fed = decoder.feed(b"\x1f\x8b\x08\x00garbage-garbage-garbage");
        assert!(fed.is_err() || decoder.finish(false).is_err());
    }
}
