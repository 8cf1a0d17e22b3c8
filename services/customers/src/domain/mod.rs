//! The customer file and its rules, free of I/O: validation, updates by field, tier changes
//! with history, archiving, the lifetime value formula, and which changes the visits service
//! hears of.

mod churn;
mod lifetime_value;
mod validate;
mod visits;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use churn::{
    risk_level, ChurnPolicy, ChurnSignal, RiskLevel, SignalKind, MAX_EVIDENCE, MAX_SIGNAL_AGE,
    RECENT_SIGNALS, SIGNAL_WINDOW,
};
pub use csops_runtime::RuleError;
pub use lifetime_value::{lifetime_value_minor, LifetimeValueInputs};
pub use validate::{
    FieldViolation, Violations, MAX_ID, MAX_ITEM, MAX_ITEMS, MAX_LABEL, MAX_NAME, MAX_NOTES,
};
pub use visits::{
    visits_change, CareDate, ChangeKind, CustomerChanged, VisitsSnapshot, CUSTOMER_CHANGED, VISITS,
};

/// The longest reason of a tier change, in characters.
pub const MAX_REASON: usize = 1000;

/// Value tier of a customer; A is the most valuable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tier {
    /// Most valuable.
    A,
    /// Regular.
    B,
    /// Least valuable.
    C,
}

impl Tier {
    /// Returns the stored code of the tier.
    pub fn code(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::B => "B",
            Self::C => "C",
        }
    }

    /// Parses a stored code.
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "A" => Some(Self::A),
            "B" => Some(Self::B),
            "C" => Some(Self::C),
            _ => None,
        }
    }
}

/// Where the customer is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Region {
    /// City or town.
    Urban,
    /// Countryside.
    Rural,
}

impl Region {
    /// Returns the stored code of the region.
    pub fn code(self) -> &'static str {
        match self {
            Self::Urban => "urban",
            Self::Rural => "rural",
        }
    }

    /// Parses a stored code.
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "urban" => Some(Self::Urban),
            "rural" => Some(Self::Rural),
            _ => None,
        }
    }
}

/// Whether a file is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// In use.
    Active,
    /// Archived (soft-deleted).
    Archived,
}

impl State {
    /// Returns the stored code of the state.
    pub fn code(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Archived => "archived",
        }
    }

    /// Parses a stored code.
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "active" => Some(Self::Active),
            "archived" => Some(Self::Archived),
            _ => None,
        }
    }
}

/// What a contact value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContactKind {
    /// Phone number.
    Phone,
    /// E-mail address.
    Email,
    /// Postal address.
    Address,
}

/// One way to reach the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// What `value` is.
    pub kind: ContactKind,
    /// The number or address.
    pub value: String,
    /// Optional label.
    pub label: String,
    /// Preferred contact of its kind.
    pub primary: bool,
}

/// What an important date is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DateKind {
    /// Birthday.
    Birthday,
    /// Anniversary.
    Anniversary,
    /// Another date worth a greeting.
    Other,
}

/// Whose date it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Relation {
    /// The customer.
    SelfPerson,
    /// Spouse or partner.
    Spouse,
    /// Child.
    Child,
    /// Parent.
    Parent,
    /// Someone else close to the customer.
    Other,
}

/// A date to remember for scheduled care.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportantDate {
    /// What the date is.
    pub kind: DateKind,
    /// Whose date it is.
    pub relation: Relation,
    /// Name of the person when not the customer.
    pub person_name: String,
    /// 1-12.
    pub month: u32,
    /// 1-31, valid for the month.
    pub day: u32,
    /// Year when known, 0 otherwise.
    pub year: i32,
    /// Optional note.
    pub note: String,
}

/// A contact channel (ordered as declared, so a set of channels has one canonical order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Channel {
    /// Phone calls.
    PhoneCall,
    /// Text messages.
    Sms,
    /// E-mail.
    Email,
    /// Post.
    Post,
    /// In-person visits.
    InPerson,
    /// Messaging apps.
    MessagingApp,
}

/// The customer's consent on one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// The channel.
    pub channel: Channel,
    /// Agreed or refused.
    pub granted: bool,
    /// When `granted` last changed; `None` until the file records the answer.
    #[serde(with = "csops_runtime::time::serde_micros_opt")]
    pub update_time: Option<DateTime<Utc>>,
}

/// The descriptive part of a file: everything except identity, tier and bookkeeping.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Ways to reach the customer.
    pub contacts: Vec<Contact>,
    /// Dates to remember.
    pub important_dates: Vec<ImportantDate>,
    /// What the customer needs.
    pub needs: Vec<String>,
    /// What the customer likes or dislikes.
    pub preferences: Vec<String>,
    /// Free-form notes.
    pub notes: String,
    /// Consent per channel.
    pub consents: Vec<Consent>,
    /// Inputs of the lifetime value, when estimated.
    pub lifetime_value_inputs: Option<LifetimeValueInputs>,
}

/// One entry of the tier history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierChange {
    /// Tier before; `None` for the creation entry.
    pub from: Option<Tier>,
    /// Tier after.
    pub to: Tier,
    /// Who changed it.
    pub changed_by: String,
    /// Why.
    pub reason: String,
    /// When.
    #[serde(with = "csops_runtime::time::serde_micros")]
    pub time: DateTime<Utc>,
}

/// The fields a caller gives to create a customer, before validation.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCustomer {
    /// Display name.
    pub display_name: String,
    /// Tier.
    pub tier: Tier,
    /// Key account flag.
    pub key_account: bool,
    /// Region.
    pub region: Region,
    /// Owner agent id, may be empty.
    pub owner_agent_id: String,
    /// Descriptive part.
    pub profile: Profile,
}

/// A stored customer file.
#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    /// Server-assigned id.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Current tier.
    pub tier: Tier,
    /// Key account flag.
    pub key_account: bool,
    /// Region.
    pub region: Region,
    /// Owner agent id, may be empty.
    pub owner_agent_id: String,
    /// Descriptive part.
    pub profile: Profile,
    /// Tier changes, oldest first.
    pub tier_history: Vec<TierChange>,
    /// Most recent churn signals, newest first.
    pub churn_signals: Vec<ChurnSignal>,
    /// The churn risk level they add up to under the policy in force when the last signal was
    /// recorded (stored in its own column); `None` without signals.
    pub churn_level: Option<RiskLevel>,
    /// Active or archived.
    pub state: State,
    /// Creation time.
    pub create_time: DateTime<Utc>,
    /// Last change.
    pub update_time: DateTime<Utc>,
    /// Archive time; `None` while active.
    pub delete_time: Option<DateTime<Utc>>,
    /// Optimistic-concurrency version, bumped by every change.
    pub version: i64,
}

/// Fields an update may change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerPatch {
    /// New display name.
    pub display_name: Option<String>,
    /// New key account flag.
    pub key_account: Option<bool>,
    /// New region.
    pub region: Option<Region>,
    /// New owner agent.
    pub owner_agent_id: Option<String>,
    /// New contacts (replaces the list).
    pub contacts: Option<Vec<Contact>>,
    /// New important dates (replaces the list).
    pub important_dates: Option<Vec<ImportantDate>>,
    /// New needs (replaces the list).
    pub needs: Option<Vec<String>>,
    /// New preferences (replaces the list).
    pub preferences: Option<Vec<String>>,
    /// New notes.
    pub notes: Option<String>,
    /// New consents (replaces the list).
    pub consents: Option<Vec<Consent>>,
    /// New lifetime value inputs; `Some(None)` clears them.
    pub lifetime_value_inputs: Option<Option<LifetimeValueInputs>>,
}

impl Customer {
    /// Creates a file from validated input; the creation is the first tier history entry.
    pub fn create(
        id: String,
        input: NewCustomer,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Self, RuleError> {
        let violations = validate::new_customer(&input);
        if !violations.is_empty() {
            return Err(RuleError::Invalid(violations));
        }
        let mut profile = input.profile;
        for consent in &mut profile.consents {
            consent.update_time = Some(now);
        }
        Ok(Self {
            id,
            display_name: input.display_name.trim().to_owned(),
            tier: input.tier,
            key_account: input.key_account,
            region: input.region,
            owner_agent_id: input.owner_agent_id,
            profile,
            tier_history: vec![TierChange {
                from: None,
                to: input.tier,
                changed_by: actor.to_owned(),
                reason: "created".to_owned(),
                time: now,
            }],
            churn_signals: Vec::new(),
            churn_level: None,
            state: State::Active,
            create_time: now,
            update_time: now,
            delete_time: None,
            version: 1,
        })
    }

    /// Returns the etag clients send back to prove they saw the current version.
    pub fn etag(&self) -> String {
        format!("v{}", self.version)
    }

    /// Fails with a precondition error when the file is archived.
    fn ensure_active(&self) -> Result<(), RuleError> {
        match self.state {
            State::Active => Ok(()),
            State::Archived => Err(RuleError::Precondition(format!(
                "customer {} is archived; restore it with UndeleteCustomer first",
                self.id
            ))),
        }
    }

    /// Applies a patch. Consent times change only for channels whose answer changed.
    pub fn apply(&mut self, patch: CustomerPatch, now: DateTime<Utc>) -> Result<(), RuleError> {
        self.ensure_active()?;
        let violations = validate::patch(&patch);
        if !violations.is_empty() {
            return Err(RuleError::Invalid(violations));
        }
        let CustomerPatch {
            display_name,
            key_account,
            region,
            owner_agent_id,
            contacts,
            important_dates,
            needs,
            preferences,
            notes,
            consents,
            lifetime_value_inputs,
        } = patch;
        if let Some(v) = display_name {
            self.display_name = v.trim().to_owned();
        }
        if let Some(v) = key_account {
            self.key_account = v;
        }
        if let Some(v) = region {
            self.region = v;
        }
        if let Some(v) = owner_agent_id {
            self.owner_agent_id = v;
        }
        if let Some(v) = contacts {
            self.profile.contacts = v;
        }
        if let Some(v) = important_dates {
            self.profile.important_dates = v;
        }
        if let Some(v) = needs {
            self.profile.needs = v;
        }
        if let Some(v) = preferences {
            self.profile.preferences = v;
        }
        if let Some(v) = notes {
            self.profile.notes = v;
        }
        if let Some(mut v) = consents {
            for consent in &mut v {
                let before = self
                    .profile
                    .consents
                    .iter()
                    .find(|c| c.channel == consent.channel);
                consent.update_time = match before {
                    Some(old) if old.granted == consent.granted => old.update_time,
                    _ => Some(now),
                };
            }
            self.profile.consents = v;
        }
        if let Some(v) = lifetime_value_inputs {
            self.profile.lifetime_value_inputs = v;
        }
        self.touch(now);
        Ok(())
    }

    /// Moves the customer to another tier and records who, when and why.
    pub fn change_tier(
        &mut self,
        to: Tier,
        reason: &str,
        changed_by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), RuleError> {
        let mut violations = Violations::default();
        if reason.trim().is_empty() {
            violations.push("reason", "must say why the tier changes");
        } else {
            violations.max_len("reason", reason, MAX_REASON);
        }
        if changed_by.trim().is_empty() {
            violations.push("changed_by", "must name who changes the tier");
        } else {
            violations.max_id("changed_by", changed_by);
        }
        if !violations.is_empty() {
            return Err(RuleError::Invalid(violations));
        }
        self.ensure_active()?;
        if self.tier == to {
            return Err(RuleError::Precondition(format!(
                "customer {} is already in tier {}",
                self.id,
                to.code()
            )));
        }
        self.tier_history.push(TierChange {
            from: Some(self.tier),
            to,
            changed_by: changed_by.trim().to_owned(),
            reason: reason.trim().to_owned(),
            time: now,
        });
        self.tier = to;
        self.touch(now);
        Ok(())
    }

    /// Archives the file.
    pub fn archive(&mut self, now: DateTime<Utc>) -> Result<(), RuleError> {
        self.ensure_active()?;
        self.state = State::Archived;
        self.delete_time = Some(now);
        self.touch(now);
        Ok(())
    }

    /// Restores an archived file.
    pub fn restore(&mut self, now: DateTime<Utc>) -> Result<(), RuleError> {
        if self.state == State::Active {
            return Err(RuleError::Precondition(format!(
                "customer {} is not archived",
                self.id
            )));
        }
        self.state = State::Active;
        self.delete_time = None;
        self.touch(now);
        Ok(())
    }

    /// Records a churn signal (idempotency by signal id is the store's job) and recomputes
    /// the risk level.
    pub fn record_churn_signal(
        &mut self,
        signal: ChurnSignal,
        policy: &ChurnPolicy,
        now: DateTime<Utc>,
    ) -> Result<(), RuleError> {
        let violations = signal.validate();
        if !violations.is_empty() {
            return Err(RuleError::Invalid(violations.prefixed("signal")));
        }
        self.ensure_active()?;
        churn::remember(&mut self.churn_signals, signal, policy.recent);
        self.churn_level = risk_level(&self.churn_signals, policy.window);
        self.touch(now);
        Ok(())
    }

    /// Returns the churn risk level, `None` without signals.
    pub fn churn_risk(&self) -> Option<RiskLevel> {
        self.churn_level
    }

    /// Returns the lifetime value in minor units, 0 when no inputs are recorded.
    pub fn lifetime_value_minor(&self) -> i64 {
        self.profile
            .lifetime_value_inputs
            .as_ref()
            .map_or(0, lifetime_value_minor)
    }

    /// Returns the lowercased name used by text search.
    pub fn search_name(&self) -> String {
        self.display_name.to_lowercase()
    }

    /// Returns the digits of every phone number, separated by `|`, used by text search.
    pub fn search_phones(&self) -> String {
        let phones: Vec<String> = self
            .profile
            .contacts
            .iter()
            .filter(|c| c.kind == ContactKind::Phone)
            .map(|c| digits(&c.value))
            .collect();
        format!("|{}|", phones.join("|"))
    }

    fn touch(&mut self, now: DateTime<Utc>) {
        // Times never go backwards, even if the clock does.
        self.update_time = now.max(self.update_time);
        self.version += 1;
    }
}

/// Returns only the ASCII digits of `text`.
pub fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// An instant `micros` after the epoch.
    fn t(micros: i64) -> DateTime<Utc> {
        csops_runtime::time::from_micros(micros)
    }

    fn input() -> NewCustomer {
        NewCustomer {
            display_name: " Li Lei ".into(),
            tier: Tier::B,
            key_account: false,
            region: Region::Urban,
            owner_agent_id: "agent-7".into(),
            profile: Profile {
                contacts: vec![Contact {
                    kind: ContactKind::Phone,
                    value: "+86 138-0013-8000".into(),
                    label: "mobile".into(),
                    primary: true,
                }],
                consents: vec![Consent {
                    channel: Channel::Sms,
                    granted: true,
                    update_time: None,
                }],
                ..Profile::default()
            },
        }
    }

    #[test]
    fn creation_starts_the_tier_history_and_trims_the_name() {
        let c = Customer::create("c1".into(), input(), "agent-7", t(100)).unwrap();
        assert_eq!(c.display_name, "Li Lei");
        assert_eq!(c.tier_history.len(), 1);
        assert_eq!(c.tier_history[0].from, None);
        assert_eq!(c.profile.consents[0].update_time, Some(t(100)));
        assert_eq!(c.etag(), "v1");
        assert_eq!(c.search_phones(), "|8613800138000|");
    }

    #[test]
    fn a_tier_change_is_recorded_with_who_and_why_and_bumps_the_version() {
        let mut c = Customer::create("c1".into(), input(), "a", t(100)).unwrap();
        c.change_tier(Tier::A, "signed a 3-year contract", "sup-1", t(200))
            .unwrap();
        assert_eq!(c.tier, Tier::A);
        let last = c.tier_history.last().unwrap();
        assert_eq!(
            (last.from, last.to, last.time),
            (Some(Tier::B), Tier::A, t(200))
        );
        assert_eq!(last.changed_by, "sup-1");
        assert_eq!(c.version, 2);
    }

    #[test]
    fn changing_to_the_same_tier_or_without_a_reason_is_refused() {
        let mut c = Customer::create("c1".into(), input(), "a", t(100)).unwrap();
        assert!(matches!(
            c.change_tier(Tier::B, "why", "me", t(1)),
            Err(RuleError::Precondition(_))
        ));
        assert!(matches!(
            c.change_tier(Tier::A, " ", "me", t(1)),
            Err(RuleError::Invalid(_))
        ));
    }

    #[test]
    fn an_archived_file_refuses_changes_until_restored() {
        let mut c = Customer::create("c1".into(), input(), "a", t(100)).unwrap();
        c.archive(t(150)).unwrap();
        assert_eq!((c.state, c.delete_time), (State::Archived, Some(t(150))));
        assert!(matches!(
            c.apply(CustomerPatch::default(), t(160)),
            Err(RuleError::Precondition(_))
        ));
        c.restore(t(170)).unwrap();
        assert_eq!((c.state, c.delete_time), (State::Active, None));
        assert!(matches!(c.restore(t(180)), Err(RuleError::Precondition(_))));
    }

    #[test]
    fn consent_time_moves_only_when_the_answer_changes() {
        let mut c = Customer::create("c1".into(), input(), "a", t(100)).unwrap();
        let same = vec![
            Consent {
                channel: Channel::Sms,
                granted: true,
                update_time: None,
            },
            Consent {
                channel: Channel::Email,
                granted: false,
                update_time: None,
            },
        ];
        c.apply(
            CustomerPatch {
                consents: Some(same),
                ..Default::default()
            },
            t(200),
        )
        .unwrap();
        assert_eq!(c.profile.consents[0].update_time, Some(t(100)));
        assert_eq!(c.profile.consents[1].update_time, Some(t(200)));
    }
}
