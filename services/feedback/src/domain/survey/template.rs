//! The survey template: one immutable version of a questionnaire, and the reading of a
//! customer's answers against its items.

use chrono::{DateTime, Utc};
use csops_runtime::time::serde_micros;
use csops_runtime::{RuleError, Violations};
use serde::{Deserialize, Serialize};

use super::super::scores::{Answer, Dimension, ItemKind};
use super::super::{coded, Actor};

/// Longest template id, in characters.
pub const MAX_TEMPLATE_ID: usize = 63;
/// Longest item id, in characters.
pub const MAX_ITEM_ID: usize = 40;
/// Longest template title, in characters.
pub const MAX_TITLE: usize = 200;
/// Longest item prompt, in characters.
pub const MAX_PROMPT: usize = 1_000;
/// Most items of a template version.
pub const MAX_ITEMS: usize = 50;

coded! {
    /// How an item is answered, as a template is written (the dimension comes apart).
    pub enum ItemForm {
        /// CSAT, 1-5.
        Csat = "csat",
        /// NPS, 0-10.
        Nps = "nps",
        /// CES, 1-7.
        Ces = "ces",
        /// A SERVQUAL dimension: expectation and perception.
        Servqual = "servqual",
        /// Free text.
        Text = "text",
    }
}

/// An item as a caller writes it, before it is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemDraft {
    /// Identifier within the template.
    pub item_id: String,
    /// How it is answered.
    pub form: ItemForm,
    /// The dimension; required for SERVQUAL items, absent for the others.
    pub dimension: Option<Dimension>,
    /// The question.
    pub prompt: String,
    /// Whether the survey is complete only once it is answered.
    pub required: bool,
}

/// One question of a template version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// Identifier within the template, e.g. `csat`.
    pub item_id: String,
    /// How it is answered (for SERVQUAL, with its dimension).
    pub kind: ItemKind,
    /// The question as the customer reads or hears it.
    pub prompt: String,
    /// Whether the survey is complete only once it is answered.
    pub required: bool,
}

/// One version of a questionnaire. A version never changes; a revision is the next version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    /// Client-chosen id, e.g. `after-repair`.
    pub id: String,
    /// From 1.
    pub version: i32,
    /// What it is for.
    pub title: String,
    /// The questions, in the order they are asked.
    pub items: Vec<Item>,
    /// Who made this version.
    pub created_by: Actor,
    /// When this version was made.
    #[serde(with = "serde_micros")]
    pub create_time: DateTime<Utc>,
}

/// An answer as a caller sends it, before it is read against its item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerInput {
    /// The item answered.
    pub item_id: String,
    /// CSAT, NPS or CES score.
    pub score: i32,
    /// SERVQUAL expectation.
    pub expectation: i32,
    /// SERVQUAL perception.
    pub perception: i32,
    /// Free text.
    pub text: String,
}

/// Whether `id` is 1-`max` characters of a-z, 0-9 and `extra`.
fn well_formed(id: &str, max: usize, extra: char) -> bool {
    !id.is_empty()
        && id.chars().count() <= max
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == extra)
}

impl Template {
    /// Version 1 of a new template. Violations name `id`, `title` and `items[i]…`.
    pub fn create(
        id: &str,
        title: &str,
        items: Vec<ItemDraft>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Template, RuleError> {
        let mut v = Violations::default();
        if !well_formed(id, MAX_TEMPLATE_ID, '-') {
            v.push(
                "id",
                format!("must be 1-{MAX_TEMPLATE_ID} characters of a-z, 0-9 and \"-\""),
            );
        }
        let template = Self::checked(id, 1, title, items, actor, now, &mut v);
        v.into_result(template).map_err(RuleError::Invalid)
    }

    /// The next version, with new title and items. Violations name `title` and `items[i]…`.
    pub fn revise(
        &self,
        title: &str,
        items: Vec<ItemDraft>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Template, RuleError> {
        let mut v = Violations::default();
        let template = Self::checked(&self.id, self.version + 1, title, items, actor, now, &mut v);
        v.into_result(template).map_err(RuleError::Invalid)
    }

    /// Checks title and items: 1-50 items, ids well formed and unique, prompts 1-1000
    /// characters, a dimension on SERVQUAL items and on no other; each scored kind (CSAT, NPS,
    /// CES, each SERVQUAL dimension) at most once, since a survey carries one value of each.
    fn checked(
        id: &str,
        version: i32,
        title: &str,
        drafts: Vec<ItemDraft>,
        actor: &Actor,
        now: DateTime<Utc>,
        v: &mut Violations,
    ) -> Template {
        let title = title.trim();
        if title.is_empty() || title.chars().count() > MAX_TITLE {
            v.push("title", format!("must be 1-{MAX_TITLE} characters"));
        }
        if drafts.is_empty() || drafts.len() > MAX_ITEMS {
            v.push(
                "items",
                format!("must hold 1-{MAX_ITEMS} items (got {})", drafts.len()),
            );
        }
        let mut items: Vec<Item> = Vec::with_capacity(drafts.len());
        let mut seen: Vec<String> = Vec::with_capacity(drafts.len());
        for (i, d) in drafts.into_iter().enumerate() {
            let field = format!("items[{i}]");
            if !well_formed(&d.item_id, MAX_ITEM_ID, '_') {
                v.push(
                    format!("{field}.item_id"),
                    format!("must be 1-{MAX_ITEM_ID} characters of a-z, 0-9 and \"_\""),
                );
            } else if seen.contains(&d.item_id) {
                v.push(
                    format!("{field}.item_id"),
                    format!("{:?} is used by an earlier item", d.item_id),
                );
            }
            seen.push(d.item_id.clone());
            let prompt = d.prompt.trim();
            if prompt.is_empty() || prompt.chars().count() > MAX_PROMPT {
                v.push(
                    format!("{field}.prompt"),
                    format!("must be 1-{MAX_PROMPT} characters"),
                );
            }
            let kind = match (d.form, d.dimension) {
                (ItemForm::Servqual, Some(dim)) => Some(ItemKind::Servqual(dim)),
                (ItemForm::Servqual, None) => {
                    v.push(
                        format!("{field}.dimension"),
                        "is required for a SERVQUAL item",
                    );
                    None
                }
                (_, Some(_)) => {
                    v.push(
                        format!("{field}.dimension"),
                        "must be unset: only SERVQUAL items ask about a dimension",
                    );
                    None
                }
                (ItemForm::Csat, None) => Some(ItemKind::Csat),
                (ItemForm::Nps, None) => Some(ItemKind::Nps),
                (ItemForm::Ces, None) => Some(ItemKind::Ces),
                (ItemForm::Text, None) => Some(ItemKind::FreeText),
            };
            let Some(kind) = kind else { continue };
            if kind != ItemKind::FreeText && items.iter().any(|it| it.kind == kind) {
                v.push(
                    format!("{field}.kind"),
                    format!(
                        "a template asks {} once (a survey carries one value of it)",
                        kind.label()
                    ),
                );
            }
            items.push(Item {
                item_id: d.item_id,
                kind,
                prompt: prompt.to_owned(),
                required: d.required,
            });
        }
        Template {
            id: id.to_owned(),
            version,
            title: title.to_owned(),
            items,
            created_by: actor.clone(),
            create_time: now,
        }
    }

    /// The template's name in messages: `after-repair v2`.
    pub fn name(&self) -> String {
        format!("{} v{}", self.id, self.version)
    }

    /// Reads answers against the items: each names an item of this version at most once, and
    /// fits its kind and scale. Returns (item index, answer) pairs. Violations name `field[i]`
    /// and its part: `.item_id`, `.score`, `.expectation`, `.perception`, `.text`.
    pub fn read_answers(
        &self,
        inputs: &[AnswerInput],
        field: &str,
    ) -> Result<Vec<(usize, Answer)>, RuleError> {
        let mut v = Violations::default();
        let mut read: Vec<(usize, Answer)> = Vec::with_capacity(inputs.len());
        for (i, input) in inputs.iter().enumerate() {
            let at = format!("{field}[{i}]");
            let Some(index) = self.items.iter().position(|it| it.item_id == input.item_id) else {
                v.push(
                    format!("{at}.item_id"),
                    format!("{:?} is not an item of {}", input.item_id, self.name()),
                );
                continue;
            };
            if read.iter().any(|(k, _)| *k == index) {
                v.push(
                    format!("{at}.item_id"),
                    format!("{:?} is answered twice", input.item_id),
                );
                continue;
            }
            let kind = self.items[index].kind;
            let (answer, part) = shape(kind, input);
            let parts_given = [
                ("score", input.score != 0),
                ("expectation", input.expectation != 0),
                ("perception", input.perception != 0),
                ("text", !input.text.is_empty()),
            ];
            for (name, given) in parts_given {
                if given && !kind_reads(kind, name) {
                    v.push(
                        format!("{at}.{name}"),
                        format!("must be unset for a {} item", kind.label()),
                    );
                }
            }
            kind.check(&answer, &format!("{at}{part}"), &mut v);
            read.push((index, answer));
        }
        v.into_result(read).map_err(RuleError::Invalid)
    }
}

/// The answer an input gives to an item of `kind`, and the field suffix its checks name.
fn shape(kind: ItemKind, input: &AnswerInput) -> (Answer, &'static str) {
    match kind {
        ItemKind::Csat => (Answer::Csat(input.score), ".score"),
        ItemKind::Nps => (Answer::Nps(input.score), ".score"),
        ItemKind::Ces => (Answer::Ces(input.score), ".score"),
        ItemKind::Servqual(dimension) => (
            Answer::Servqual {
                dimension,
                expectation: input.expectation,
                perception: input.perception,
            },
            "",
        ),
        ItemKind::FreeText => (Answer::FreeText(input.text.clone()), ".text"),
    }
}

/// Whether an item of `kind` reads the answer part `name`.
fn kind_reads(kind: ItemKind, name: &str) -> bool {
    match kind {
        ItemKind::Csat | ItemKind::Nps | ItemKind::Ces => name == "score",
        ItemKind::Servqual(_) => name == "expectation" || name == "perception",
        ItemKind::FreeText => name == "text",
    }
}
