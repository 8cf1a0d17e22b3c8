//! Scorecard handlers: ListScorecards, the weighted score, grade after quotas and service type
//! of every agent, team or service hall of a period.
//!
//! Every page grades all units of the period (the quotas are shares of all of them) and cuts
//! its page from that ranking. The order is computed, so a page token holds the last card's
//! position (its score and unit id), signed like every listing's; the next page starts after
//! that position, and a unit rescored between two pages never shifts the others.

use chrono::TimeDelta;
use csops_proto::feedback::v1 as pb;
use csops_runtime::paging::{self, Filters};
use csops_runtime::time::from_timestamp;
use csops_runtime::violations::MAX_PAGE_TOKEN_LEN;
use csops_runtime::{Error, Violations};

use super::convert_surveys::grade_pb;
use super::{done, FeedbackApi, DEFAULT_PAGE_SIZE};
use crate::domain::grades::{Contribution, Scored, ServiceType, ServiceTyping};
use crate::store::scorecards::{UnitCard, UnitKind};

/// The longest period a listing may cover.
const MAX_PERIOD_DAYS: i64 = 366;

fn unit_kind_of(n: i32) -> Option<UnitKind> {
    Some(match pb::UnitKind::try_from(n).ok()? {
        pb::UnitKind::Agent => UnitKind::Agent,
        pb::UnitKind::Team => UnitKind::Team,
        pb::UnitKind::ServiceHall => UnitKind::ServiceHall,
        pb::UnitKind::Unspecified => return None,
    })
}

fn unit_kind_pb(k: UnitKind) -> pb::UnitKind {
    match k {
        UnitKind::Agent => pb::UnitKind::Agent,
        UnitKind::Team => pb::UnitKind::Team,
        UnitKind::ServiceHall => pb::UnitKind::ServiceHall,
    }
}

fn service_type_pb(t: Option<ServiceType>) -> pb::ServiceType {
    match t {
        None => pb::ServiceType::Unspecified,
        Some(ServiceType::Quality) => pb::ServiceType::Quality,
        Some(ServiceType::Friendly) => pb::ServiceType::Friendly,
        Some(ServiceType::Production) => pb::ServiceType::Production,
        Some(ServiceType::Cold) => pb::ServiceType::Cold,
    }
}

fn contribution_pb(c: &Contribution) -> pb::ScoreContribution {
    let Contribution {
        metric,
        raw,
        normalised,
        weight,
        points,
    } = c;
    pb::ScoreContribution {
        metric: metric.name().to_owned(),
        value: *raw,
        normalized: *normalised,
        weight: *weight,
        points: *points,
    }
}

fn scorecard_pb(kind: UnitKind, card: &UnitCard) -> pb::Scorecard {
    let UnitCard {
        unit_id,
        score,
        scored,
        earned,
        grade,
        bonus_points,
        deduction_points,
        service,
        surveys,
    } = card;
    let Scored {
        contributions,
        // The metrics without data are left out of the breakdown; their weight went to the
        // others.
        missing: _,
        // The score is shown after the adjustments; the breakdown's points sum to the base.
        base: _,
        // The sums of the surveys are shown (bonus_points, deduction_points); the scorecard
        // was given their net.
        bonuses: _,
        deductions: _,
        score: _,
    } = scored;
    let ServiceTyping {
        procedural,
        personal,
        service_type,
    } = service;
    pb::Scorecard {
        unit_kind: unit_kind_pb(kind) as i32,
        unit_id: unit_id.clone(),
        score: *score,
        grade: grade_pb(Some(*grade)) as i32,
        score_grade: grade_pb(Some(*earned)) as i32,
        breakdown: contributions.iter().map(contribution_pb).collect(),
        bonus_points: *bonus_points,
        deduction_points: *deduction_points,
        procedural_score: procedural.unwrap_or_default(),
        personal_score: personal.unwrap_or_default(),
        service_type: service_type_pb(*service_type) as i32,
        surveys: *surveys,
    }
}

pub(super) async fn list_scorecards(
    api: &FeedbackApi,
    request: pb::ListScorecardsRequest,
) -> Result<pb::ListScorecardsResponse, Error> {
    let pb::ListScorecardsRequest {
        period_start,
        period_end,
        unit_kind,
        page_size,
        page_token,
    } = request;
    let mut v = Violations::default();
    v.max_len("page_token", &page_token, MAX_PAGE_TOKEN_LEN);
    done(v)?;
    let mut v = Violations::default();
    if period_start.is_none() {
        v.push("period_start", "is required");
    }
    if period_end.is_none() {
        v.push("period_end", "is required");
    }
    let start = from_timestamp("period_start", period_start, &mut v);
    let end = from_timestamp("period_end", period_end, &mut v);
    if let (Some(start), Some(end)) = (start, end) {
        if end <= start {
            v.push("period_end", "must be after period_start");
        } else if end - start > TimeDelta::days(MAX_PERIOD_DAYS) {
            v.push(
                "period_end",
                format!("must be at most {MAX_PERIOD_DAYS} days after period_start"),
            );
        }
    }
    let kind = v.required_enum(unit_kind_of(unit_kind), unit_kind, "unit_kind");
    let limit = paging::page_size(page_size, DEFAULT_PAGE_SIZE, &mut v);
    let filters = Filters::new("ListScorecards")
        .with("period_start", start.map_or(0, |t| t.timestamp_micros()))
        .with("period_end", end.map_or(0, |t| t.timestamp_micros()))
        .with("unit_kind", kind.map_or("", UnitKind::code));
    let after = api.page_tokens.read(&page_token, &filters, &mut v);
    done(v)?;
    let (Some(start), Some(end), Some(kind)) = (start, end, kind) else {
        return Err(Error::invalid("period_start", "is required"));
    };
    let (cards, total_units) = api
        .core
        .list_scorecards(kind, start, end, after.as_ref(), limit + 1)
        .await?;
    let (cards, next_page_token) = api
        .page_tokens
        .page(cards, limit, &filters, UnitCard::cursor);
    Ok(pb::ListScorecardsResponse {
        scorecards: cards.iter().map(|c| scorecard_pb(kind, c)).collect(),
        next_page_token,
        total_units: i64::try_from(total_units).unwrap_or(i64::MAX),
    })
}
