//! Survey item kinds, one answer to an item, and a response (one survey's answers as they
//! stand), with validation of each answer against its item's kind and scale.

use std::ops::RangeInclusive;

use csops_runtime::{RuleError, Violations};
use serde::{Deserialize, Serialize};

use super::Dimension;

/// The longest free-text answer kept, in characters: the contract's limit for a TEXT item
/// (a couple of pages: enough for a complaint in the customer's words).
pub const MAX_FREE_TEXT_CHARS: usize = 4000;

/// What a survey item asks, which fixes the answer's shape and scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// Customer satisfaction, 1 (very dissatisfied) to 5 (very satisfied).
    Csat,
    /// Net promoter: likelihood to recommend, 0 to 10.
    Nps,
    /// Customer effort, 1 (very easy) to 7 (very hard).
    Ces,
    /// A SERVQUAL item of one dimension: expectation and perception, each 1 to 7.
    Servqual(Dimension),
    /// Free text, kept but not scored.
    FreeText,
}

impl ItemKind {
    /// The scale of the item's answers (for SERVQUAL, of expectation and of perception);
    /// `None` for free text. These define the instruments, they are not policy.
    pub fn scale(self) -> Option<RangeInclusive<i32>> {
        match self {
            ItemKind::Csat => Some(1..=5),
            ItemKind::Nps => Some(0..=10),
            ItemKind::Ces | ItemKind::Servqual(_) => Some(1..=7),
            ItemKind::FreeText => None,
        }
    }

    /// The kind's name for messages ("CSAT", "SERVQUAL empathy", …).
    pub fn label(self) -> String {
        match self {
            ItemKind::Csat => "CSAT".into(),
            ItemKind::Nps => "NPS".into(),
            ItemKind::Ces => "CES".into(),
            ItemKind::Servqual(d) => format!("SERVQUAL {}", d.name()),
            ItemKind::FreeText => "free text".into(),
        }
    }

    /// Checks one answer against this kind: the right shape, the right SERVQUAL dimension,
    /// values within the scale, free text within [`MAX_FREE_TEXT_CHARS`]. Violations name
    /// `field` (for SERVQUAL `field.expectation` and `field.perception`).
    pub fn check(self, answer: &Answer, field: &str, v: &mut Violations) {
        if answer.kind() != self {
            v.push(
                field,
                format!(
                    "this item takes {} answers (got {})",
                    self.label(),
                    answer.kind().label()
                ),
            );
            return;
        }
        let scale = self.scale();
        match (answer, scale) {
            (Answer::Csat(x) | Answer::Nps(x) | Answer::Ces(x), Some(scale)) => {
                in_scale(v, field, *x, &scale);
            }
            (
                Answer::Servqual {
                    expectation,
                    perception,
                    ..
                },
                Some(scale),
            ) => {
                in_scale(v, &format!("{field}.expectation"), *expectation, &scale);
                in_scale(v, &format!("{field}.perception"), *perception, &scale);
            }
            (Answer::FreeText(text), _) => {
                v.max_len(field, text, MAX_FREE_TEXT_CHARS);
            }
            // Every scored kind has a scale; the arms above cover them all.
            (_, None) => {}
        }
    }
}

fn in_scale(v: &mut Violations, field: &str, value: i32, scale: &RangeInclusive<i32>) {
    if !scale.contains(&value) {
        v.push(
            field,
            format!("must be {}-{} (got {value})", scale.start(), scale.end()),
        );
    }
}

/// One answer to one survey item. Values are kept as the API carries them (`int32`) and are
/// checked with [`ItemKind::check`]; a tally never counts a value outside its scale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// A CSAT answer, 1-5.
    Csat(i32),
    /// An NPS answer, 0-10.
    Nps(i32),
    /// A CES answer, 1-7 (lower is less effort).
    Ces(i32),
    /// A SERVQUAL answer: what the customer expected and what they perceived, each 1-7.
    Servqual {
        /// The dimension the item measures.
        dimension: Dimension,
        /// What the customer expected, 1-7.
        expectation: i32,
        /// What the customer perceived, 1-7.
        perception: i32,
    },
    /// A free-text answer.
    FreeText(String),
}

impl Answer {
    /// The kind of item this answer fits.
    pub fn kind(&self) -> ItemKind {
        match self {
            Answer::Csat(_) => ItemKind::Csat,
            Answer::Nps(_) => ItemKind::Nps,
            Answer::Ces(_) => ItemKind::Ces,
            Answer::Servqual { dimension, .. } => ItemKind::Servqual(*dimension),
            Answer::FreeText(_) => ItemKind::FreeText,
        }
    }

    /// Whether the answer says something: a blank free text is a skipped item.
    pub fn is_given(&self) -> bool {
        match self {
            Answer::FreeText(text) => !text.trim().is_empty(),
            _ => true,
        }
    }

    /// Whether every value lies within its kind's scale (free text always does).
    pub fn is_in_scale(&self) -> bool {
        let Some(scale) = self.kind().scale() else {
            return true;
        };
        match self {
            Answer::Csat(x) | Answer::Nps(x) | Answer::Ces(x) => scale.contains(x),
            Answer::Servqual {
                expectation,
                perception,
                ..
            } => scale.contains(expectation) && scale.contains(perception),
            Answer::FreeText(_) => true,
        }
    }
}

/// One survey's answers as they stand: one slot per item of its template, in template order,
/// `None` for an item not (yet) answered. Partial answers are kept; a survey sent and never
/// answered is a response whose slots are all empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// The answers, one slot per template item.
    pub answers: Vec<Option<Answer>>,
}

impl Response {
    /// Checks the response against its template's items: one slot per item, each answer
    /// fitting its item. Violations name `field[i]` (e.g. `answers[3].perception`).
    pub fn validate(&self, items: &[ItemKind], field: &str) -> Result<(), RuleError> {
        let mut v = Violations::default();
        if self.answers.len() != items.len() {
            v.push(
                field,
                format!(
                    "must hold one slot per survey item: {} items (got {})",
                    items.len(),
                    self.answers.len()
                ),
            );
        }
        for (i, (answer, kind)) in self.answers.iter().zip(items).enumerate() {
            if let Some(answer) = answer {
                kind.check(answer, &format!("{field}[{i}]"), &mut v);
            }
        }
        v.into_result(()).map_err(RuleError::Invalid)
    }

    /// Whether at least one item is answered: the customer responded.
    pub fn is_answered(&self) -> bool {
        self.answers.iter().flatten().any(Answer::is_given)
    }

    /// Whether every item is answered (and there is at least one item).
    pub fn is_complete(&self) -> bool {
        !self.answers.is_empty()
            && self
                .answers
                .iter()
                .all(|a| a.as_ref().is_some_and(Answer::is_given))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servqual(expectation: i32, perception: i32) -> Answer {
        Answer::Servqual {
            dimension: Dimension::Empathy,
            expectation,
            perception,
        }
    }

    fn fields(err: RuleError) -> Vec<String> {
        let RuleError::Invalid(v) = err else {
            panic!("expected invalid input, got {err}")
        };
        v.0.into_iter().map(|f| f.field).collect()
    }

    #[test]
    fn answers_within_their_scales_pass() {
        let items = [
            ItemKind::Csat,
            ItemKind::Nps,
            ItemKind::Ces,
            ItemKind::Servqual(Dimension::Empathy),
            ItemKind::FreeText,
        ];
        let r = Response {
            answers: vec![
                Some(Answer::Csat(5)),
                Some(Answer::Nps(0)),
                Some(Answer::Ces(7)),
                Some(servqual(1, 7)),
                Some(Answer::FreeText("快".into())),
            ],
        };
        assert_eq!(r.validate(&items, "answers"), Ok(()));
        assert!(r.is_answered() && r.is_complete());
    }

    #[test]
    fn out_of_range_values_are_named_by_their_field_path() {
        let items = [
            ItemKind::Csat,
            ItemKind::Nps,
            ItemKind::Ces,
            ItemKind::Servqual(Dimension::Empathy),
        ];
        let r = Response {
            answers: vec![
                Some(Answer::Csat(0)),
                Some(Answer::Nps(11)),
                Some(Answer::Ces(8)),
                Some(servqual(0, 9)),
            ],
        };
        let err = r
            .validate(&items, "response.answers")
            .expect_err("out of range");
        let RuleError::Invalid(v) = err.clone() else {
            panic!()
        };
        assert_eq!(v.0[0].description, "must be 1-5 (got 0)");
        assert_eq!(
            fields(err),
            [
                "response.answers[0]",
                "response.answers[1]",
                "response.answers[2]",
                "response.answers[3].expectation",
                "response.answers[3].perception",
            ]
        );
    }

    #[test]
    fn an_answer_of_another_kind_or_dimension_is_refused() {
        let mut v = Violations::default();
        ItemKind::Nps.check(&Answer::Csat(4), "a", &mut v);
        ItemKind::Servqual(Dimension::Reliability).check(&servqual(4, 4), "b", &mut v);
        assert_eq!(v.0[0].description, "this item takes NPS answers (got CSAT)");
        assert_eq!(
            v.0[1].description,
            "this item takes SERVQUAL reliability answers (got SERVQUAL empathy)"
        );
    }

    #[test]
    fn a_response_needs_one_slot_per_item_and_long_text_is_refused() {
        let items = [ItemKind::FreeText, ItemKind::Csat];
        let r = Response {
            answers: vec![Some(Answer::FreeText("x".repeat(MAX_FREE_TEXT_CHARS + 1)))],
        };
        assert_eq!(
            fields(r.validate(&items, "answers").expect_err("one slot short")),
            ["answers", "answers[0]"]
        );
    }

    #[test]
    fn skipped_items_and_blank_text_leave_a_response_partial_or_unanswered() {
        let blank = Response {
            answers: vec![Some(Answer::FreeText("  ".into())), None],
        };
        assert!(!blank.is_answered() && !blank.is_complete());
        let partial = Response {
            answers: vec![Some(Answer::Csat(3)), None],
        };
        assert!(partial.is_answered() && !partial.is_complete());
        assert!(!Response::default().is_complete());
        assert!(!servqual(0, 4).is_in_scale() && servqual(1, 7).is_in_scale());
    }
}
