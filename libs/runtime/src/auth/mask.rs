//! Personal data shown to callers who do not need it (ops), masked: enough to tell records
//! apart, not enough to call or write to the customer.

/// A phone number with every digit but the last four replaced by `*`; separators are kept,
/// so "+86 138 0013 8000" becomes "+** *** **** 8000".
pub fn phone(number: &str) -> String {
    let digits = number.chars().filter(char::is_ascii_digit).count();
    let mut seen = 0;
    number
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen + 4 > digits {
                    return c;
                }
                return '*';
            }
            if c.is_alphanumeric() {
                '*'
            } else {
                c
            }
        })
        .collect()
}

/// An e-mail address with its local part cut to its first character: "li.na@example.com"
/// becomes "l***@example.com". Anything without an `@` is masked whole.
pub fn email(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) if !local.is_empty() => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        _ => whole(address),
    }
}

/// Anything else personal (a postal address, an ID number): masked whole.
pub fn whole(_value: &str) -> String {
    "***".to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn phones_keep_their_last_four_digits_and_their_shape() {
        assert_eq!(phone("+86 138 0013 8000"), "+** *** **** 8000");
        assert_eq!(phone("(010) 6552-1234"), "(***) ****-1234");
        assert_eq!(phone("123"), "123");
        assert_eq!(email("li.na@example.com"), "l***@example.com");
        assert_eq!(email("@example.com"), "***");
        assert_eq!(whole("Room 1203, 8 Jianguo Road"), "***");
    }

    proptest! {
        #[test]
        fn a_masked_phone_shows_at_most_four_digits(number in "[0-9 +()-]{0,40}") {
            let masked = phone(&number);
            prop_assert!(masked.chars().filter(char::is_ascii_digit).count() <= 4);
            prop_assert_eq!(masked.chars().count(), number.chars().count());
        }
    }
}
