//! Who may call each RPC of the visits service (see `csops_runtime::auth`).

use csops_runtime::auth::{Role, RoleTable, AGENTS, READERS, SUPERVISORS};

/// Whoever goes to the customer: agents, their leads, field engineers.
const VISITORS: &[Role] = &[Role::Agent, Role::Supervisor, Role::FieldEngineer];

/// The engineer's own steps on a field job, and their lead.
const ENGINEERS: &[Role] = &[Role::FieldEngineer, Role::Supervisor];

/// One row per RPC; the test below checks it against the contract.
pub const ROLES: RoleTable = &[
    ("CreateVisitPlan", AGENTS),
    ("GetVisitPlan", READERS),
    ("ListVisitPlans", READERS),
    ("UpdateVisitPlan", AGENTS),
    ("RefreshVisitPlan", AGENTS),
    ("PauseVisitPlan", AGENTS),
    ("ResumeVisitPlan", AGENTS),
    ("CreateVisit", VISITORS),
    // Complaints asks for a follow-up visit through its outbox.
    (
        "RequestComplaintVisit",
        &[Role::Agent, Role::Supervisor, Role::Service],
    ),
    ("GetVisit", READERS),
    ("ListVisits", READERS),
    ("UpdateVisit", VISITORS),
    ("ScheduleVisit", VISITORS),
    ("StartVisit", VISITORS),
    ("CompleteVisit", VISITORS),
    ("MissVisit", VISITORS),
    ("CancelVisit", VISITORS),
    ("GetAgenda", READERS),
    // Customers' changes, delivered by its outbox; a lead may replay one by hand.
    ("ApplyCustomerChange", &[Role::Service, Role::Supervisor]),
    ("ReplanVisits", SUPERVISORS),
    ("ListCareEvents", READERS),
    ("SkipCareEvent", AGENTS),
    ("CreateFieldJob", AGENTS),
    ("GetFieldJob", READERS),
    ("ListFieldJobs", READERS),
    // The window and the extra work's consent are agreed with the customer, by either side.
    (
        "AgreeFieldJobWindow",
        &[Role::Agent, Role::Supervisor, Role::FieldEngineer],
    ),
    ("RecordFieldJobArrival", ENGINEERS),
    ("StartFieldJob", ENGINEERS),
    ("ProposeExtraWork", ENGINEERS),
    (
        "RecordExtraWorkConsent",
        &[Role::Agent, Role::Supervisor, Role::FieldEngineer],
    ),
    ("PauseFieldJob", ENGINEERS),
    ("ResumeFieldJob", ENGINEERS),
    ("CompleteFieldJob", ENGINEERS),
    ("CancelFieldJob", AGENTS),
];

#[cfg(test)]
mod tests {
    #[test]
    fn the_role_table_lists_every_rpc_once() {
        csops_runtime::auth::check_table(super::ROLES, crate::SPEC.grpc_service)
            .unwrap_or_else(|problems| panic!("{problems}"));
    }
}
