//! Lifetime value (客户终身价值): the discounted cash a customer brings over the relationship,
//! minus the cost of winning and serving them.

use serde::{Deserialize, Serialize};

use super::Violations;

/// The estimates behind a lifetime value. Amounts are in minor units of `currency_code`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifetimeValueInputs {
    /// ISO 4217 code, e.g. "CNY".
    pub currency_code: String,
    /// Cash brought per year.
    pub annual_revenue_minor: i64,
    /// Cost of serving per year.
    pub annual_service_cost_minor: i64,
    /// One-time cost of winning the customer.
    pub acquisition_cost_minor: i64,
    /// Expected length of the relationship, 1-100 years.
    pub expected_years: i32,
    /// Yearly discount rate, 0 <= rate < 1.
    pub discount_rate: f64,
}

impl LifetimeValueInputs {
    /// Checks the inputs; field paths are relative to the inputs message.
    pub fn validate(&self) -> Violations {
        let mut v = Violations::default();
        let code = &self.currency_code;
        if code.len() != 3 || !code.chars().all(|c| c.is_ascii_uppercase()) {
            v.push(
                "currency_code",
                "must be a three-letter ISO 4217 code such as CNY",
            );
        }
        for (field, amount) in [
            ("annual_revenue_minor", self.annual_revenue_minor),
            ("annual_service_cost_minor", self.annual_service_cost_minor),
            ("acquisition_cost_minor", self.acquisition_cost_minor),
        ] {
            if !(0..=1_000_000_000_000_000).contains(&amount) {
                v.push(field, "must be between 0 and 10^15 minor units");
            }
        }
        if !(1..=100).contains(&self.expected_years) {
            v.push("expected_years", "must be 1-100");
        }
        if !(self.discount_rate.is_finite() && (0.0..1.0).contains(&self.discount_rate)) {
            v.push("discount_rate", "must be a fraction with 0 <= rate < 1");
        }
        v
    }
}

/// Computes sum over t = 1..years of (revenue - cost) / (1 + rate)^t, minus acquisition,
/// rounded to the nearest minor unit (saturating at the i64 range).
pub fn lifetime_value_minor(inputs: &LifetimeValueInputs) -> i64 {
    #[allow(clippy::cast_precision_loss)]
    let margin = (inputs.annual_revenue_minor - inputs.annual_service_cost_minor) as f64;
    let mut discount = 1.0;
    let mut total = 0.0;
    for _ in 0..inputs.expected_years.max(0) {
        discount /= 1.0 + inputs.discount_rate;
        total += margin * discount;
    }
    #[allow(clippy::cast_precision_loss)]
    let value = total - inputs.acquisition_cost_minor as f64;
    #[allow(clippy::cast_possible_truncation)]
    let rounded = value.round() as i64;
    rounded
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn inputs(
        revenue: i64,
        cost: i64,
        acquisition: i64,
        years: i32,
        rate: f64,
    ) -> LifetimeValueInputs {
        LifetimeValueInputs {
            currency_code: "CNY".into(),
            annual_revenue_minor: revenue,
            annual_service_cost_minor: cost,
            acquisition_cost_minor: acquisition,
            expected_years: years,
            discount_rate: rate,
        }
    }

    #[test]
    fn matches_the_worked_example_in_the_proto() {
        // 1200.00 revenue, 200.00 cost, 3 years at 10 %, 500.00 acquisition = 1986.85.
        assert_eq!(
            lifetime_value_minor(&inputs(120_000, 20_000, 50_000, 3, 0.10)),
            198_685
        );
    }

    #[test]
    fn without_discount_it_is_margin_times_years_minus_acquisition() {
        assert_eq!(
            lifetime_value_minor(&inputs(1_000, 400, 700, 5, 0.0)),
            2_300
        );
    }

    #[test]
    fn bad_inputs_name_their_fields() {
        let v = inputs(-1, 0, 0, 0, 1.5).validate();
        let fields: Vec<&str> = v.0.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(
            fields,
            ["annual_revenue_minor", "expected_years", "discount_rate"]
        );
    }

    proptest! {
        #[test]
        fn a_higher_discount_rate_never_raises_a_positive_margin_value(
            margin in 0i64..10_000_000, years in 1i32..50, r1 in 0.0f64..0.9, r2 in 0.0f64..0.9,
        ) {
            let (lo, hi) = if r1 <= r2 { (r1, r2) } else { (r2, r1) };
            let a = lifetime_value_minor(&inputs(margin, 0, 0, years, lo));
            let b = lifetime_value_minor(&inputs(margin, 0, 0, years, hi));
            prop_assert!(b <= a);
        }

        #[test]
        fn the_value_never_exceeds_the_undiscounted_margin(
            revenue in 0i64..10_000_000, cost in 0i64..10_000_000, acquisition in 0i64..10_000_000,
            years in 1i32..100, rate in 0.0f64..0.99,
        ) {
            let value = lifetime_value_minor(&inputs(revenue, cost, acquisition, years, rate));
            let bound = (revenue - cost).max(0) * i64::from(years) - acquisition;
            prop_assert!(value <= bound + 1);
        }
    }
}
