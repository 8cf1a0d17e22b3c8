//! Reply check: text meant for the customer against the forbidden phrases of complaint
//! handling (处理投诉九句禁语; the seed keeps three) and their English equivalents.
//!
//! Matching ignores ASCII case, full-width parentheses and runs of spaces; offsets are in
//! Unicode code points of the original text.

use serde::{Deserialize, Serialize};

/// What is wrong with a phrasing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// "That's the company rule."
    HidingBehindRules,
    /// "Can't you read?"
    Criticising,
    /// "I'll get back to you some day."
    VagueDelay,
    /// Arguing.
    Arguing,
    /// Denying outright.
    Denying,
    /// Shifting blame.
    ShiftingBlame,
    /// Over-apologising.
    OverApologising,
    /// Writing to a complainant who should be called or met (media, lawyers, social
    /// background).
    WrittenToSensitive,
}

/// One forbidden phrase with the variants that count as it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhraseRule {
    /// Id.
    pub id: String,
    /// The phrase as configured (shown to the agent).
    pub phrase: String,
    /// Texts that match (the phrase itself is always one).
    #[serde(default)]
    pub variants: Vec<String>,
    /// Category.
    pub category: Category,
    /// Why it hurts and what to say instead.
    pub suggestion: String,
}

/// A violation found in a reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// Rule id.
    pub rule_id: String,
    /// The configured phrase.
    pub phrase: String,
    /// The matched text as written.
    pub matched_text: String,
    /// Start, in code points.
    pub start: usize,
    /// End (exclusive), in code points.
    pub end: usize,
    /// Category.
    pub category: Category,
    /// Suggestion.
    pub suggestion: String,
}

/// The configured forbidden phrases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyRules(pub Vec<PhraseRule>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    phrase: Vec<PhraseRule>,
}

impl ReplyRules {
    /// Reads `[[phrase]]` tables (id, phrase, variants, category, suggestion) from TOML.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        if file.phrase.is_empty() {
            return Err("no [[phrase]] given".to_owned());
        }
        Ok(Self(file.phrase))
    }

    /// Returns every violation in `text`, by position. Overlapping matches of one rule count
    /// once (the longest wins).
    pub fn check(&self, text: &str) -> Vec<Violation> {
        let original: Vec<char> = text.chars().collect();
        let folded: Vec<char> = original.iter().map(|c| fold(*c)).collect();
        let mut out: Vec<Violation> = Vec::new();
        for rule in &self.0 {
            let mut found: Vec<(usize, usize)> = Vec::new();
            for pattern in std::iter::once(&rule.phrase).chain(rule.variants.iter()) {
                let pattern: Vec<char> = pattern.chars().map(fold).collect();
                for (start, end) in find_all(&folded, &pattern) {
                    found.push((start, end));
                }
            }
            found.sort_by_key(|&(s, e)| (s, std::cmp::Reverse(e)));
            let mut last_end = 0;
            for (start, end) in found {
                if start < last_end {
                    continue;
                }
                last_end = end;
                out.push(Violation {
                    rule_id: rule.id.clone(),
                    phrase: rule.phrase.clone(),
                    matched_text: original[start..end].iter().collect(),
                    start,
                    end,
                    category: rule.category,
                    suggestion: rule.suggestion.clone(),
                });
            }
        }
        out.sort_by_key(|v| (v.start, v.end));
        out
    }
}

/// Folds case, full-width brackets and the typographic apostrophe so equivalent spellings
/// match; one char in, one char out, so offsets stay aligned with the original.
fn fold(c: char) -> char {
    match c {
        '（' => '(',
        '）' => ')',
        '’' | '‘' => '\'',
        '\u{3000}' => ' ',
        c if c.is_ascii() => c.to_ascii_lowercase(),
        c => c,
    }
}

/// Finds every occurrence of `pattern`, letting one space in the pattern match a run of
/// whitespace in the text.
fn find_all(text: &[char], pattern: &[char]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    if pattern.is_empty() {
        return out;
    }
    for start in 0..text.len() {
        let (mut i, mut j) = (start, 0);
        while j < pattern.len() && i < text.len() {
            if pattern[j] == ' ' && text[i].is_whitespace() {
                while i < text.len() && text[i].is_whitespace() {
                    i += 1;
                }
                j += 1;
            } else if pattern[j] == text[i] {
                i += 1;
                j += 1;
            } else {
                break;
            }
        }
        if j == pattern.len() {
            out.push((start, i));
        }
    }
    out
}

fn rule(
    id: &str,
    phrase: &str,
    variants: &[&str],
    category: Category,
    suggestion: &str,
) -> PhraseRule {
    PhraseRule {
        id: id.to_owned(),
        phrase: phrase.to_owned(),
        variants: variants.iter().map(|v| (*v).to_owned()).collect(),
        category,
        suggestion: suggestion.to_owned(),
    }
}

impl Default for ReplyRules {
    /// The seed's three forbidden phrases (003, with both wordings of the third), the
    /// lecturing the customer that seed 000 warns against, their English equivalents, and two
    /// of the handbook's other don'ts (shifting blame, denying outright).
    fn default() -> Self {
        Self(vec![
            rule(
                "company-rule-zh",
                "公司的规定就是这样的",
                &["公司规定就是这样的", "公司的规定就是这样"],
                Category::HidingBehindRules,
                "不要拿规定搪塞客户：说明规定的原因，并告诉客户我们能为他做什么。",
            ),
            rule(
                "company-rule-en",
                "that's the company policy",
                &[
                    "that is the company policy",
                    "that's company policy",
                    "that's the company rule",
                    "that is the company rule",
                    "company policy is company policy",
                ],
                Category::HidingBehindRules,
                "Don't hide behind rules: explain why the rule exists and what you can do for the customer.",
            ),
            rule(
                "cannot-read-zh",
                "你看不懂中文(英文)吗",
                &["你看不懂中文吗", "你看不懂英文吗", "你看不懂中文(英文)吗", "你看不懂英文(中文)吗"],
                Category::Criticising,
                "不要贬低客户：换一种方式再解释一遍，并确认客户已经理解。",
            ),
            rule(
                "cannot-read-en",
                "can't you read",
                &["cannot you read", "can you not read", "don't you understand english"],
                Category::Criticising,
                "Never belittle the customer: explain again another way and check they have understood.",
            ),
            rule(
                "some-day-zh",
                "改天再和你联络(通知你)",
                &[
                    "改天再和你联络",
                    "改天再跟你联络",
                    "改天再和你联系",
                    "改天再跟你联系",
                    // The seed's "(通知你)": the same put-off in its other wording (003).
                    "改天再通知你",
                    "改天再和您联络",
                    "改天再跟您联系",
                    "改天再通知您",
                ],
                Category::VagueDelay,
                "不要含糊推托：说清楚谁在什么时间回复客户，并把这个承诺记录下来。",
            ),
            rule(
                "some-day-en",
                "I'll get back to you some day",
                &[
                    "i will get back to you some day",
                    "i'll get back to you someday",
                    "i will get back to you someday",
                    "i'll get back to you some other day",
                ],
                Category::VagueDelay,
                "Don't put the customer off: say who will call back and by when, and record that promise.",
            ),
            // Seed 000: 對顧客說「不要不講理！」以殺殺他的威風 — answered "no": it pours oil on an
            // angry customer's fire.
            rule(
                "lecturing-zh",
                "不要不讲理",
                &["不要不講理", "你不要不讲理", "别不讲理", "請不要不講理", "请不要不讲理"],
                Category::Arguing,
                "不要教训客户：先让客户把话说完，确认他的感受，再说明我们能做什么。",
            ),
            rule(
                "lecturing-en",
                "don't be unreasonable",
                &["do not be unreasonable", "stop being unreasonable", "you are being unreasonable"],
                Category::Arguing,
                "Don't lecture the customer: let them finish, acknowledge how they feel, then say what you can do.",
            ),
            rule(
                "not-our-problem",
                "that's not our problem",
                &["that is not our problem", "不是我们的问题", "这不关我们的事"],
                Category::ShiftingBlame,
                "Don't shift blame: own the problem and say what happens next.",
            ),
            rule(
                "impossible",
                "that's impossible",
                &["that is impossible", "这是不可能的"],
                Category::Denying,
                "Don't deny outright: check the facts first, then explain what you found.",
            ),
        ])
    }
}

/// The violation of writing at all to a sensitive complainant (seed 003: "尽量避免使用文字" —
/// avoid written statements to media, lawyers and people with social background): it covers
/// the whole reply.
pub fn written_to_sensitive(text: &str) -> Violation {
    Violation {
        rule_id: "written_reply_to_sensitive".to_owned(),
        phrase: String::new(),
        matched_text: String::new(),
        start: 0,
        end: text.chars().count(),
        category: Category::WrittenToSensitive,
        suggestion: "This complainant (media, legal or social background) should not be answered \
                     in writing: what is written can be quoted. Call or meet them instead \
                     (seed 003: 尽量避免使用文字)."
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_the_seed_phrases_with_code_point_offsets() {
        let rules = ReplyRules::default();
        let v = rules.check("您好，公司的规定就是这样的。你看不懂英文吗？改天再和你联络。");
        let ids: Vec<_> = v.iter().map(|v| v.rule_id.as_str()).collect();
        assert_eq!(ids, ["company-rule-zh", "cannot-read-zh", "some-day-zh"]);
        assert_eq!((v[0].start, v[0].end), (3, 13));
        assert_eq!(v[0].matched_text, "公司的规定就是这样的");
        assert_eq!(v[1].matched_text, "你看不懂英文吗");
    }

    #[test]
    fn matches_english_ignoring_case_apostrophes_and_spaces() {
        let v = ReplyRules::default().check("Sorry, THAT’S the   company policy. Can't you read?");
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].category, Category::HidingBehindRules);
        assert_eq!(v[0].matched_text, "THAT’S the   company policy");
        assert_eq!(v[1].category, Category::Criticising);
    }

    #[test]
    fn the_full_width_bracket_form_counts_once() {
        let v = ReplyRules::default().check("你看不懂中文（英文）吗");
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].start, v[0].end), (0, 11));
    }

    #[test]
    fn a_clean_reply_has_no_violation() {
        assert!(ReplyRules::default()
            .check("I will call you back by 15:00 today with the engineer's answer.")
            .is_empty());
    }

    #[test]
    fn both_wordings_of_the_seeds_put_off_and_lecturing_the_customer_are_caught() {
        let rules = ReplyRules::default();
        let found = rules.check("我们改天再通知你。");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].category, Category::VagueDelay);
        let found = rules.check("先生，请你不要不讲理。");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].category, Category::Arguing);
        let found = rules.check("Please don't be unreasonable.");
        assert_eq!(found[0].category, Category::Arguing);
    }

    #[test]
    fn rules_load_from_toml() {
        let rules = ReplyRules::from_toml(
            "[[phrase]]\nid = \"x\"\nphrase = \"calm down\"\ncategory = \"criticising\"\nsuggestion = \"listen\"\n",
        )
        .unwrap();
        assert_eq!(rules.check("Please calm down").len(), 1);
        assert!(ReplyRules::from_toml("phrase = []").is_err());
    }

    proptest! {
        #[test]
        fn every_match_points_at_its_own_text(prefix in "\\PC{0,20}", suffix in "\\PC{0,20}") {
            let text = format!("{prefix}改天再和你联络{suffix}");
            let chars: Vec<char> = text.chars().collect();
            let v = ReplyRules::default().check(&text);
            prop_assert!(!v.is_empty());
            for x in v {
                let slice: String = chars[x.start..x.end].iter().collect();
                prop_assert_eq!(slice, x.matched_text);
            }
        }
    }
}
