//! Who may call each RPC of the customers service (see `csops_runtime::auth`). Which records
//! an agent may touch is checked in the handlers: their own customers only.

use csops_runtime::auth::{Role, RoleTable, AGENTS, READERS, SUPERVISORS};

/// One row per RPC; the test below checks it against the contract.
pub const ROLES: RoleTable = &[
    ("CreateCustomer", AGENTS),
    ("GetCustomer", READERS),
    ("ListCustomers", READERS),
    ("UpdateCustomer", AGENTS),
    ("ChangeCustomerTier", AGENTS),
    ("DeleteCustomer", SUPERVISORS),
    ("UndeleteCustomer", SUPERVISORS),
    // Feedback's churn detector records signals too.
    (
        "RecordChurnSignal",
        &[Role::Agent, Role::Supervisor, Role::Service],
    ),
];

#[cfg(test)]
mod tests {
    #[test]
    fn the_role_table_lists_every_rpc_once() {
        csops_runtime::auth::check_table(super::ROLES, crate::SPEC.grpc_service)
            .unwrap_or_else(|problems| panic!("{problems}"));
    }
}
