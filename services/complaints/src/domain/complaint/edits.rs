//! Field edits, notes and calls, and the version and timeline bookkeeping of every change.

use chrono::{DateTime, TimeDelta, Utc};

use super::{
    references, text, Complaint, Effects, Patch, CLOCK_SKEW, MAX_BACKDATE, MAX_CALL, MAX_DEMAND,
    MAX_DESCRIPTION, MAX_NOTE, MAX_TITLE,
};
use crate::domain::rules::Rules;
use crate::domain::types::*;
use crate::domain::{new_id, RuleError, Violations};

impl Complaint {
    /// Marks the start of a change: a new version at `now`.
    pub fn touch(&mut self, now: DateTime<Utc>) {
        self.version += 1;
        self.update_time = now;
    }

    /// Appends a timeline entry at the next sequence; returns that sequence.
    pub(super) fn entry(
        &mut self,
        fx: &mut Effects,
        actor: &Actor,
        now: DateTime<Utc>,
        summary: String,
        details: Details,
    ) -> i64 {
        self.timeline_seq += 1;
        fx.entries.push(Entry {
            id: new_id("tle"),
            complaint_id: self.id.clone(),
            sequence: self.timeline_seq,
            actor: actor.clone(),
            time: now,
            summary,
            details,
        });
        self.timeline_seq
    }

    /// Applies the masked fields; severity, channel or traits re-evaluate the clocks.
    pub fn update(
        &mut self,
        patch: Patch,
        paths: Vec<String>,
        actor: &Actor,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<Effects, RuleError> {
        self.ensure_not_final("update", rules)?;
        let mut v = Violations::default();
        if let Some(t) = &patch.title {
            text(&mut v, "title", t, MAX_TITLE, true);
        }
        if let Some(t) = &patch.description {
            text(&mut v, "description", t, MAX_DESCRIPTION, false);
        }
        if let Some(t) = &patch.customer_demand {
            text(&mut v, "customer_demand", t, MAX_DEMAND, false);
        }
        if let Some(r) = &patch.references {
            references(&mut v, r);
        }
        if let Some(t) = &patch.lesson_learned {
            if self.resolution.is_none() {
                v.push(
                    "resolution.lesson_learned",
                    "the complaint has no resolution yet",
                );
            }
            text(&mut v, "resolution.lesson_learned", t, MAX_NOTE, false);
        }
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        self.touch(now);
        let mut fx = Effects::default();
        let Patch {
            title,
            description,
            customer_demand,
            nature,
            severity,
            channel,
            traits,
            references,
            lesson_learned,
        } = patch;
        let mut retarget = false;
        if let Some(t) = title {
            self.title = t.trim().to_owned();
        }
        if let Some(t) = description {
            self.description = t;
        }
        if let Some(t) = customer_demand {
            self.customer_demand = t;
        }
        if let Some(n) = nature {
            self.nature = n;
        }
        if let Some(s) = severity {
            retarget |= s != self.severity;
            self.severity = s;
        }
        if let Some(c) = channel {
            retarget |= c != self.channel;
            self.channel = c;
        }
        if let Some(mut t) = traits {
            t.sort();
            t.dedup();
            retarget |= t != self.traits;
            self.traits = t;
        }
        if let Some(r) = references {
            self.references = r;
        }
        if let (Some(l), Some(r)) = (lesson_learned, self.resolution.as_mut()) {
            r.lesson_learned = l;
        }
        self.entry(
            &mut fx,
            actor,
            now,
            format!("updated {}", paths.join(", ")),
            Details::Update {
                changed_fields: paths,
            },
        );
        if retarget {
            self.retarget_clocks(&mut fx, actor, rules, now)?;
            self.sensitive_follow_up(&mut fx, false, rules, now);
            self.request_visit_if_due(&mut fx, rules, now);
        }
        Ok(fx)
    }

    /// Appends a note; returns its timeline sequence.
    pub fn add_note(
        &mut self,
        text_: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(i64, Effects), RuleError> {
        let mut v = Violations::default();
        text(&mut v, "text", text_, MAX_NOTE, true);
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        self.touch(now);
        let mut fx = Effects::default();
        let sequence = self.entry(
            &mut fx,
            actor,
            now,
            "note".into(),
            Details::Note {
                text: text_.to_owned(),
            },
        );
        Ok((sequence, fx))
    }

    /// Appends a call; returns its timeline sequence.
    pub fn record_call(
        &mut self,
        call: Option<Call>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(i64, Effects), RuleError> {
        let Some(call) = call else {
            return Err(RuleError::invalid(
                "call",
                "direction and start_time are required",
            ));
        };
        let mut v = Violations::default();
        match call.start_time {
            None => v.push("call.start_time", "is required"),
            Some(t) if t > now + CLOCK_SKEW => {
                v.push("call.start_time", "must not be in the future")
            }
            Some(t) if t < now - MAX_BACKDATE => v.push(
                "call.start_time",
                format!("must be within the last {} days", MAX_BACKDATE.num_days()),
            ),
            Some(_) => {}
        }
        if call.duration < TimeDelta::zero() {
            v.push("call.duration", "must not be negative");
        } else if call.duration > MAX_CALL {
            v.push(
                "call.duration",
                format!("must be at most {} hours", MAX_CALL.num_hours()),
            );
        }
        text(&mut v, "call.summary", &call.summary, MAX_NOTE, false);
        if !v.is_empty() {
            return Err(RuleError::Invalid(v));
        }
        self.touch(now);
        let summary = format!(
            "{} call{}",
            call.direction.code(),
            if call.reached { "" } else { " (not reached)" }
        );
        let mut fx = Effects::default();
        let sequence = self.entry(&mut fx, actor, now, summary, Details::Call(call));
        Ok((sequence, fx))
    }
}
