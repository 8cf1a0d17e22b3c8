//! Pure SLA rules: business calendars, clocks, policies, explanations and compliance statistics.
#![forbid(unsafe_code)]
