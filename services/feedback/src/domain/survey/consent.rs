//! Whether a survey may be sent by a channel: the customer must have consented to a way of
//! reaching them that the channel uses (DOMAIN §5: channel consents are respected). A channel
//! the customer file does not list has no consent.

use csops_runtime::RuleError;

use super::SurveyChannel;

/// A way of reaching a customer, as the customer file records consent for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Phone calls.
    PhoneCall,
    /// Text messages.
    Sms,
    /// E-mail.
    Email,
    /// Letters and cards by post.
    Post,
    /// In person.
    InPerson,
    /// Messaging apps.
    MessagingApp,
}

impl SurveyChannel {
    /// The ways of reaching the customer a survey by this channel uses; consent to any one of
    /// them is enough (a web survey's link goes by e-mail or a messaging app).
    pub fn reaches(self) -> &'static [Reach] {
        match self {
            SurveyChannel::Phone => &[Reach::PhoneCall],
            SurveyChannel::Sms => &[Reach::Sms],
            SurveyChannel::Web => &[Reach::Email, Reach::MessagingApp],
            SurveyChannel::InPerson => &[Reach::InPerson],
            SurveyChannel::Paper => &[Reach::Post],
        }
    }

    /// FAILED_PRECONDITION unless the customer granted one of the channel's ways of reaching
    /// them; `granted` holds the consents given (refused ones left out).
    pub fn check_consent(self, customer_id: &str, granted: &[Reach]) -> Result<(), RuleError> {
        if self.reaches().iter().any(|r| granted.contains(r)) {
            Ok(())
        } else {
            Err(RuleError::Precondition(format!(
                "customer {customer_id} has not consented to be contacted by {} (needs consent to {}); send the survey by a channel the customer agreed to",
                self.code(),
                self.reaches()
                    .iter()
                    .map(|r| format!("{r:?}"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_channel_needs_consent_to_one_of_its_ways() {
        assert!(SurveyChannel::Sms.check_consent("c", &[Reach::Sms]).is_ok());
        assert!(SurveyChannel::Web
            .check_consent("c", &[Reach::MessagingApp])
            .is_ok());
        assert!(SurveyChannel::Web
            .check_consent("c", &[Reach::Email])
            .is_ok());
        let refused = SurveyChannel::Phone
            .check_consent("cus_1", &[Reach::Sms, Reach::Email])
            .unwrap_err();
        assert!(
            matches!(&refused, RuleError::Precondition(m) if m.contains("cus_1") && m.contains("phone")),
            "{refused:?}"
        );
        assert!(SurveyChannel::Paper.check_consent("c", &[]).is_err());
    }

    #[test]
    fn every_channel_is_reachable_some_way() {
        for channel in [
            SurveyChannel::Phone,
            SurveyChannel::Sms,
            SurveyChannel::Web,
            SurveyChannel::InPerson,
            SurveyChannel::Paper,
        ] {
            assert!(!channel.reaches().is_empty());
            assert!(channel.check_consent("c", channel.reaches()).is_ok());
        }
    }
}
