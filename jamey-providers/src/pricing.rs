//! Cost of a call from token counts, for servers that do not report it.

use std::collections::HashMap;

use jamey_protocol::TokenUsage;

/// USD per million tokens for one model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelPrice {
    pub prompt_usd_per_million: f64,
    pub completion_usd_per_million: f64,
}

impl ModelPrice {
    /// The cost of `usage` at this price.
    pub fn cost_usd(&self, usage: TokenUsage) -> f64 {
        (usage.prompt_tokens as f64 * self.prompt_usd_per_million
            + usage.completion_tokens as f64 * self.completion_usd_per_million)
            / 1_000_000.0
    }
}

/// Prices by model id.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PriceTable {
    prices: HashMap<String, ModelPrice>,
}

impl PriceTable {
    /// Sets the price of `model`.
    pub fn insert(&mut self, model: impl Into<String>, price: ModelPrice) {
        self.prices.insert(model.into(), price);
    }

    /// The price of `model`, if configured.
    pub fn get(&self, model: &str) -> Option<&ModelPrice> {
        self.prices.get(model)
    }
}

impl FromIterator<(String, ModelPrice)> for PriceTable {
    fn from_iter<I: IntoIterator<Item = (String, ModelPrice)>>(iter: I) -> Self {
        Self {
            prices: iter.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_per_million_tokens() {
        let price = ModelPrice {
            prompt_usd_per_million: 0.15,
            completion_usd_per_million: 0.60,
        };
        let usage = TokenUsage {
            prompt_tokens: 2_000_000,
            completion_tokens: 500_000,
            total_tokens: 2_500_000,
        };
        assert!((price.cost_usd(usage) - 0.6).abs() < 1e-12);
    }
}
