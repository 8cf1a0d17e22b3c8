//! Plan handlers: create, read, list, update, refresh, pause and resume a plan, and the
//! customer files coming in (one change event, or the full re-plan).

use csops_proto::visits::v1 as pb;
use csops_runtime::idempotency::Key;
use csops_runtime::paging::{self, Cursor, Filters};
use csops_runtime::time::{from_timestamp, now};
use csops_runtime::{Error, Violations};

use super::convert::{self, plan_pb};
use super::limits::{self, MAX_CARE_PREFERENCES};
use super::{done, VisitsApi, DEFAULT_PAGE_SIZE};
use crate::app::PlanInput;
use crate::domain::care::MAX_CARE_DATES;
use crate::domain::plan::{CustomerFacts, Plan};
use crate::domain::visit::MAX_REASON;
use crate::store::PlanFilter;

/// Fields UpdateVisitPlan may change.
const UPDATABLE: [&str; 4] = [
    "owner_agent_id",
    "cadence_override",
    "in_person_interval_override",
    "care_preferences",
];

fn reply(api: &VisitsApi, plan: &Plan) -> Option<pb::VisitPlan> {
    Some(plan_pb(plan, &api.core.rules.visits, now()))
}

pub(super) async fn create_visit_plan(
    api: &VisitsApi,
    request: pb::CreateVisitPlanRequest,
) -> Result<pb::CreateVisitPlanResponse, Error> {
    limits::check(&request)?;
    let key = Key::new("create-plan", request.request_id.trim(), &request);
    let pb::CreateVisitPlanRequest {
        plan,
        request_id,
        actor,
    } = request;
    let mut v = Violations::default();
    v.require_request_id(&request_id);
    let actor = convert::actor(actor, &mut v);
    let Some(plan) = plan else {
        v.push("plan", "is required");
        return Err(Error::InvalidArgument(v));
    };
    v.require_id("plan.customer_id", &plan.customer_id);
    let input = PlanInput {
        customer_id: plan.customer_id.trim().to_owned(),
        owner_agent_id: plan.owner_agent_id.trim().to_owned(),
        cadence_override: convert::cadence_of(
            "plan.cadence_override",
            plan.cadence_override.as_ref(),
            &mut v,
        ),
        in_person_override: convert::cadence_of(
            "plan.in_person_interval_override",
            plan.in_person_interval_override.as_ref(),
            &mut v,
        ),
        care_preferences: plan.care_preferences.trim().to_owned(),
        anchor: anchor_date(&plan.anchor_date, api.core.rules.zone.date(now()), &mut v),
    };
    done(v)?;
    let plan = api.core.create_plan(input, &key, actor).await?;
    Ok(pb::CreateVisitPlanResponse {
        plan: reply(api, &plan),
    })
}

/// Reads an optional start day, at most 366 days from `today`.
fn anchor_date(
    text: &str,
    today: chrono::NaiveDate,
    v: &mut Violations,
) -> Option<chrono::NaiveDate> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(day) if (day - today).num_days().abs() <= 366 => Some(day),
        Ok(_) => {
            v.push("plan.anchor_date", "must be at most 366 days back or ahead");
            None
        }
        Err(_) => {
            v.push("plan.anchor_date", "must be a date YYYY-MM-DD");
            None
        }
    }
}

pub(super) async fn get_visit_plan(
    api: &VisitsApi,
    request: pb::GetVisitPlanRequest,
) -> Result<pb::GetVisitPlanResponse, Error> {
    limits::check(&request)?;
    let pb::GetVisitPlanRequest { plan_id } = request;
    let mut v = Violations::default();
    v.require_id("plan_id", &plan_id);
    done(v)?;
    let plan = api.core.load_plan(&plan_id).await?;
    Ok(pb::GetVisitPlanResponse {
        plan: reply(api, &plan),
    })
}

fn plan_filters(f: &PlanFilter) -> Filters {
    let PlanFilter {
        owner_agent_id,
        customer_id,
        tier,
        key_account,
        overdue_only,
        next_due_before,
        state,
    } = f;
    Filters::new("ListVisitPlans")
        .with("owner_agent_id", owner_agent_id.as_deref().unwrap_or(""))
        .with("customer_id", customer_id.as_deref().unwrap_or(""))
        .with("tier", tier.map_or("", |t| t.code()))
        .with(
            "key_account",
            key_account.map_or("", |k| if k { "yes" } else { "no" }),
        )
        .with("overdue_only", overdue_only)
        .with(
            "next_due_before",
            next_due_before.map_or(0, |t| t.timestamp_micros()),
        )
        .with("state", state.map_or("", |s| s.code()))
}

pub(super) async fn list_visit_plans(
    api: &VisitsApi,
    request: pb::ListVisitPlansRequest,
) -> Result<pb::ListVisitPlansResponse, Error> {
    limits::check(&request)?;
    let pb::ListVisitPlansRequest {
        page_size,
        page_token,
        owner_agent_id,
        customer_id,
        tier,
        key_account,
        overdue_only,
        next_due_before,
        state,
    } = request;
    let mut v = Violations::default();
    let limit = paging::page_size(page_size, DEFAULT_PAGE_SIZE, &mut v);
    let filter = PlanFilter {
        // An agent lists only the plans they own.
        owner_agent_id: csops_runtime::auth::listing_owner(
            Some(owner_agent_id.trim().to_owned()).filter(|s| !s.is_empty()),
        )
        .map_err(Error::PermissionDenied)?,
        customer_id: Some(customer_id.trim().to_owned()).filter(|s| !s.is_empty()),
        tier: v.optional_enum(convert::tier_of(tier), tier, "tier"),
        key_account,
        overdue_only,
        next_due_before: from_timestamp("next_due_before", next_due_before, &mut v),
        state: v.optional_enum(convert::plan_state_of(state), state, "state"),
    };
    let filters = plan_filters(&filter);
    let after = api.page_tokens.read(&page_token, &filters, &mut v);
    done(v)?;
    let rows = api
        .core
        .list_plans(&filter, after.as_ref(), limit + 1)
        .await?;
    let (rows, next_page_token) = api.page_tokens.page(rows, limit, &filters, |last| Cursor {
        key: last.create_time.timestamp_micros(),
        id: last.id.clone(),
    });
    let now = now();
    Ok(pb::ListVisitPlansResponse {
        plans: rows
            .iter()
            .map(|p| plan_pb(p, &api.core.rules.visits, now))
            .collect(),
        next_page_token,
    })
}

pub(super) async fn update_visit_plan(
    api: &VisitsApi,
    request: pb::UpdateVisitPlanRequest,
) -> Result<pb::UpdateVisitPlanResponse, Error> {
    limits::check(&request)?;
    let pb::UpdateVisitPlanRequest {
        plan,
        update_mask,
        actor,
    } = request;
    let mut v = Violations::default();
    let _actor = convert::actor(actor, &mut v);
    let Some(plan) = plan else {
        v.push("plan", "is required");
        return Err(Error::InvalidArgument(v));
    };
    v.require_id("plan.id", &plan.id);
    if plan.etag.trim().is_empty() {
        v.push(
            "plan.etag",
            "is required: send the etag of the plan you read",
        );
    }
    let paths = update_mask.map(|m| m.paths).unwrap_or_default();
    if paths.is_empty() {
        v.push("update_mask", "is required: name the fields to change");
    }
    for path in &paths {
        if !UPDATABLE.contains(&path.as_str()) {
            v.push(
                "update_mask",
                format!(
                    "{} cannot be changed; allowed: {}",
                    csops_runtime::violations::quote(path),
                    UPDATABLE.join(", ")
                ),
            );
        }
    }
    let owner = plan.owner_agent_id.trim().to_owned();
    if paths.iter().any(|p| p == "owner_agent_id") && owner.is_empty() {
        v.push("plan.owner_agent_id", "is required");
    }
    let cadence = convert::cadence_of(
        "plan.cadence_override",
        plan.cadence_override.as_ref(),
        &mut v,
    );
    let in_person = convert::cadence_of(
        "plan.in_person_interval_override",
        plan.in_person_interval_override.as_ref(),
        &mut v,
    );
    let preferences = plan.care_preferences.trim().to_owned();
    if preferences.chars().count() > MAX_CARE_PREFERENCES {
        v.push(
            "plan.care_preferences",
            format!("must be at most {MAX_CARE_PREFERENCES} characters"),
        );
    }
    done(v)?;
    let has = |f: &str| paths.iter().any(|p| p == f);
    let (saved, _) = api
        .core
        .change_plan(&plan.id, plan.etag.trim(), None, |p, _, now| {
            if has("owner_agent_id") {
                p.owner_agent_id.clone_from(&owner);
            }
            if has("cadence_override") {
                p.cadence_override = cadence;
            }
            if has("in_person_interval_override") {
                p.in_person_override = in_person;
            }
            if has("care_preferences") {
                p.care_preferences.clone_from(&preferences);
            }
            p.update_time = now;
            Ok(true)
        })
        .await?;
    Ok(pb::UpdateVisitPlanResponse {
        plan: reply(api, &saved),
    })
}

pub(super) async fn refresh_visit_plan(
    api: &VisitsApi,
    request: pb::RefreshVisitPlanRequest,
) -> Result<pb::RefreshVisitPlanResponse, Error> {
    limits::check(&request)?;
    let pb::RefreshVisitPlanRequest { plan_id, actor } = request;
    let mut v = Violations::default();
    v.require_id("plan_id", &plan_id);
    convert::actor(actor, &mut v);
    done(v)?;
    let plan = api.core.refresh_plan(&plan_id).await?;
    Ok(pb::RefreshVisitPlanResponse {
        plan: reply(api, &plan),
    })
}

fn reason(v: &mut Violations, reason: &str) -> String {
    let reason = reason.trim();
    if reason.is_empty() {
        v.push("reason", "is required");
    } else if reason.chars().count() > MAX_REASON {
        v.push("reason", format!("must be at most {MAX_REASON} characters"));
    }
    reason.to_owned()
}

pub(super) async fn pause_visit_plan(
    api: &VisitsApi,
    request: pb::PauseVisitPlanRequest,
) -> Result<pb::PauseVisitPlanResponse, Error> {
    limits::check(&request)?;
    let pb::PauseVisitPlanRequest {
        plan_id,
        reason: why,
        resume_time,
        actor,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("plan_id", &plan_id);
    let why = reason(&mut v, &why);
    let resume_time = from_timestamp("resume_time", resume_time, &mut v);
    convert::actor(actor, &mut v);
    done(v)?;
    let (plan, _) = api
        .core
        .change_plan(&plan_id, etag.trim(), None, |p, _, now| {
            p.pause(why.clone(), resume_time, now).map(|()| true)
        })
        .await?;
    Ok(pb::PauseVisitPlanResponse {
        plan: reply(api, &plan),
    })
}

pub(super) async fn resume_visit_plan(
    api: &VisitsApi,
    request: pb::ResumeVisitPlanRequest,
) -> Result<pb::ResumeVisitPlanResponse, Error> {
    limits::check(&request)?;
    let pb::ResumeVisitPlanRequest {
        plan_id,
        actor,
        etag,
    } = request;
    let mut v = Violations::default();
    v.require_id("plan_id", &plan_id);
    convert::actor(actor, &mut v);
    done(v)?;
    let zone = api.core.rules.zone;
    let (plan, _) = api
        .core
        .change_plan(&plan_id, etag.trim(), None, |p, rules, now| {
            p.resume(zone, &rules.visits, now).map(|()| true)
        })
        .await?;
    Ok(pb::ResumeVisitPlanResponse {
        plan: reply(api, &plan),
    })
}

/// Reads the customer file of a change event.
fn customer_file(
    file: Option<pb::CustomerFile>,
    v: &mut Violations,
) -> Option<(String, CustomerFacts)> {
    let Some(pb::CustomerFile {
        customer_id,
        tier,
        key_account,
        region,
        owner_agent_id,
        important_dates,
        consented_channels,
        archived,
        update_time,
    }) = file
    else {
        v.push("customer", "is required");
        return None;
    };
    v.require_id("customer.customer_id", &customer_id);
    let tier = v.required_enum(convert::tier_of(tier), tier, "customer.tier");
    let region = v.required_enum(convert::region_of(region), region, "customer.region");
    if update_time.is_none() {
        v.push("customer.update_time", "is required");
    }
    let update_time = from_timestamp("customer.update_time", update_time, v);
    let care_dates: Vec<_> = important_dates
        .iter()
        .take(MAX_CARE_DATES)
        .enumerate()
        .filter_map(|(i, d)| convert::care_date_of(d, &format!("customer.important_dates[{i}]"), v))
        .collect();
    let mut consents = Vec::new();
    for (i, c) in consented_channels.iter().enumerate() {
        if let Some(c) = v.required_enum(
            convert::channel_of(*c),
            *c,
            &format!("customer.consented_channels[{i}]"),
        ) {
            if !consents.contains(&c) {
                consents.push(c);
            }
        }
    }
    Some((
        customer_id.trim().to_owned(),
        CustomerFacts {
            tier: tier?,
            key_account,
            region: region?,
            owner_agent_id: owner_agent_id.trim().to_owned(),
            care_dates,
            consents,
            archived,
            update_time,
            defaulted: false,
        },
    ))
}

pub(super) async fn apply_customer_change(
    api: &VisitsApi,
    request: pb::ApplyCustomerChangeRequest,
) -> Result<pb::ApplyCustomerChangeResponse, Error> {
    limits::check(&request)?;
    let key = Key::new("customer-change", request.source_event_id.trim(), &request);
    let pb::ApplyCustomerChangeRequest {
        source_event_id,
        change,
        customer,
        actor,
    } = request;
    let mut v = Violations::default();
    v.require_id("source_event_id", &source_event_id);
    let change = v.required_enum(
        pb::CustomerChangeKind::try_from(change)
            .ok()
            .filter(|c| *c != pb::CustomerChangeKind::Unspecified),
        change,
        "change",
    );
    let file = customer_file(customer, &mut v);
    let actor = convert::actor(actor, &mut v);
    if let (Some(change), Some((_, facts))) = (change, &file) {
        let archived = change == pb::CustomerChangeKind::Archived;
        if archived != facts.archived
            && matches!(
                change,
                pb::CustomerChangeKind::Archived | pb::CustomerChangeKind::Restored
            )
        {
            v.push(
                "customer.archived",
                "must agree with the change (true for ARCHIVED, false for RESTORED)",
            );
        }
    }
    done(v)?;
    let Some((customer_id, facts)) = file else {
        return Err(Error::invalid("customer", "is required"));
    };
    let (plan, applied) = api
        .core
        .apply_customer(&customer_id, facts, Some(&key), actor)
        .await?;
    Ok(pb::ApplyCustomerChangeResponse {
        plan: reply(api, &plan),
        duplicate: applied == crate::app::Applied::Unchanged,
    })
}

pub(super) async fn replan_visits(
    api: &VisitsApi,
    request: pb::ReplanVisitsRequest,
) -> Result<pb::ReplanVisitsResponse, Error> {
    limits::check(&request)?;
    let pb::ReplanVisitsRequest { page_size, actor } = request;
    let mut v = Violations::default();
    convert::actor(actor, &mut v);
    let page_size = match page_size {
        0 => 500,
        1..=500 => u32::try_from(page_size).unwrap_or(500),
        _ => {
            v.push("page_size", "must be 0-500 (0 means 500)");
            500
        }
    };
    done(v)?;
    let done = api.core.replan_all(page_size).await?;
    Ok(pb::ReplanVisitsResponse {
        customers_read: done.customers_read,
        plans_created: done.plans_created,
        plans_changed: done.plans_changed,
        plans_closed: done.plans_closed,
    })
}
