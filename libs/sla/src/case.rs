//! What is promised and to whom: promise kinds and the facts of a case that select a rule.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a clock measures: the kind of promise made to the customer.
///
/// Visit cadences and care lead times are not clocks: they are calendar rules, in
/// [`crate::visits`] and the policy's `[visits]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Promise {
    /// First contact with the customer after a call or complaint (DOMAIN §4: 1 hour).
    FirstContact,
    /// Contact after a call centre dispatches an order to a service centre (30 minutes).
    DispatchContact,
    /// Resolution of a complaint.
    Resolution,
    /// Callback after the service is completed (1-2 days).
    Callback,
    /// Fixing a problem found on the callback (2 days).
    CallbackFix,
    /// Installation or move (28 days urban, 38 rural, half for big customers).
    Installation,
    /// Reconnection after payment (24 hours).
    Reconnection,
    /// Business change: rename, transfer, service options (24 hours).
    BusinessChange,
    /// An on-site repair, from acceptance to completion (the handbooks give no number: the
    /// preset's limits are a deployment choice).
    Repair,
    /// Preventive maintenance on site, from acceptance to completion (deployment choice).
    Maintenance,
}

impl Promise {
    /// Every promise kind, in declaration order.
    pub const ALL: [Promise; 10] = [
        Promise::FirstContact,
        Promise::DispatchContact,
        Promise::Resolution,
        Promise::Callback,
        Promise::CallbackFix,
        Promise::Installation,
        Promise::Reconnection,
        Promise::BusinessChange,
        Promise::Repair,
        Promise::Maintenance,
    ];

    /// Returns the snake_case key used in policy files (`first_contact`).
    pub fn key(self) -> &'static str {
        match self {
            Promise::FirstContact => "first_contact",
            Promise::DispatchContact => "dispatch_contact",
            Promise::Resolution => "resolution",
            Promise::Callback => "callback",
            Promise::CallbackFix => "callback_fix",
            Promise::Installation => "installation",
            Promise::Reconnection => "reconnection",
            Promise::BusinessChange => "business_change",
            Promise::Repair => "repair",
            Promise::Maintenance => "maintenance",
        }
    }
}

impl fmt::Display for Promise {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Customer tier: A is the most valuable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Tier {
    /// Most valuable customers.
    A,
    /// Middle tier.
    B,
    /// Everyone else.
    C,
}

/// Where the customer is; rural customers get longer installation limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    /// Towns and cities (城镇).
    Urban,
    /// Countryside (农村).
    Rural,
}

/// Severity or priority of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Can wait.
    Low,
    /// The usual case.
    Medium,
    /// Serious harm or loss to the customer.
    High,
    /// Safety issue, large loss, or public exposure (media, lawyers).
    Critical,
}

/// The facts of a case that policy rules select on. Unknown facts stay `None`; a rule that
/// names a value for a dimension never matches a case where that dimension is unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Customer tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
    /// Big customer / VIP / key account (大客户).
    #[serde(default)]
    pub key_account: bool,
    /// Urban or rural.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
    /// Severity or priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Contact channel, lowercase (`phone`, `email`, `chat`, `web`, `visit`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Free-form traits, lowercase (e.g. `media`, `lawyer`, `repeat`); a rule naming traits
    /// matches when the case has all of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traits: Vec<String>,
}

impl Case {
    /// Returns an empty case (every fact unknown, not a key account).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the tier.
    pub fn tier(mut self, tier: Tier) -> Self {
        self.tier = Some(tier);
        self
    }

    /// Sets the key-account (VIP) flag.
    pub fn key_account(mut self, yes: bool) -> Self {
        self.key_account = yes;
        self
    }

    /// Sets the region.
    pub fn region(mut self, region: Region) -> Self {
        self.region = Some(region);
        self
    }

    /// Sets the severity.
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = Some(severity);
        self
    }

    /// Adds a trait (stored lowercase).
    pub fn with_trait(mut self, t: impl Into<String>) -> Self {
        self.traits.push(t.into().to_lowercase());
        self
    }

    /// Sets the channel (stored lowercase).
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = Some(channel.into().to_lowercase());
        self
    }
}
