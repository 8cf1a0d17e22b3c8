//! The four service types (seed 001 "四种类型的服务"): service has a procedural side (the
//! methods and procedure: speed, efficiency, solving problems in time) and a personal side
//! (attitude, behaviour and language skill with the customer). High on both is quality
//! service, warm but slow is friendly, fast but cold is production, neither is cold.

use csops_runtime::{RuleError, Violations};
use serde::{Deserialize, Serialize};

use super::{check_weights, weighted_mean};

/// The four service types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceType {
    /// Quality (优质型): efficient and caring, both sides high.
    Quality,
    /// Friendly (友好型): warm but slow; the right answer to excessive demands.
    Friendly,
    /// Production (生产型): fast but careless of the person.
    Production,
    /// Cold (冷淡型): neither.
    Cold,
}

impl ServiceType {
    /// The type for a procedural side and a personal side, each high or not.
    pub fn of(procedural_high: bool, personal_high: bool) -> ServiceType {
        match (procedural_high, personal_high) {
            (true, true) => ServiceType::Quality,
            (false, true) => ServiceType::Friendly,
            (true, false) => ServiceType::Production,
            (false, false) => ServiceType::Cold,
        }
    }
}

/// A part of the procedural score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProceduralPart {
    /// How promptly the unit responds, 0-100.
    Responsiveness,
    /// How much of its work meets its time limits, 0-100.
    OnTime,
}

/// A part of the personal score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonalPart {
    /// Attitude (态度), 0-100.
    Attitude,
    /// Behaviour (行为), 0-100.
    Behaviour,
    /// Language skill (语言技巧), 0-100.
    LanguageSkill,
}

/// One unit's part scores, each 0-100; `None` where there is no data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceParts {
    /// Responsiveness.
    pub responsiveness: Option<f64>,
    /// On time.
    pub on_time: Option<f64>,
    /// Attitude.
    pub attitude: Option<f64>,
    /// Behaviour.
    pub behaviour: Option<f64>,
    /// Language skill.
    pub language_skill: Option<f64>,
}

impl ServiceParts {
    fn procedural(&self, part: ProceduralPart) -> Option<f64> {
        match part {
            ProceduralPart::Responsiveness => self.responsiveness,
            ProceduralPart::OnTime => self.on_time,
        }
    }

    fn personal(&self, part: PersonalPart) -> Option<f64> {
        match part {
            PersonalPart::Attitude => self.attitude,
            PersonalPart::Behaviour => self.behaviour,
            PersonalPart::LanguageSkill => self.language_skill,
        }
    }
}

/// How the two sides are weighed and where "high" starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceTypeRules {
    /// Weights of the procedural parts. Default: responsiveness 1, on time 1 (the seed names
    /// both, neither above the other).
    pub procedural: Vec<(ProceduralPart, f64)>,
    /// Weights of the personal parts. Default: attitude 2, behaviour 1.5, language skill 1.5
    /// (attitude is the seed's first and recurring word for the personal side).
    pub personal: Vec<(PersonalPart, f64)>,
    /// The lowest side score that counts as high. Default 80: the line at which a score
    /// meets the service standard in the grades, so "high" means "up to standard" on that side
    /// and a quality unit is one that meets the standard on both.
    pub high_from: f64,
}

impl Default for ServiceTypeRules {
    fn default() -> Self {
        Self {
            procedural: vec![
                (ProceduralPart::Responsiveness, 1.0),
                (ProceduralPart::OnTime, 1.0),
            ],
            personal: vec![
                (PersonalPart::Attitude, 2.0),
                (PersonalPart::Behaviour, 1.5),
                (PersonalPart::LanguageSkill, 1.5),
            ],
            high_from: 80.0,
        }
    }
}

/// A unit's two side scores and its service type.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ServiceTyping {
    /// Procedural score, 0-100 (weighted mean of the parts present); `None` without data.
    pub procedural: Option<f64>,
    /// Personal score, 0-100; `None` without data.
    pub personal: Option<f64>,
    /// The type; `None` unless both sides have a score.
    pub service_type: Option<ServiceType>,
}

impl ServiceTypeRules {
    /// Scores both sides (missing parts left out, weights re-normalised) and places the unit
    /// among the four types. Refuses parts outside 0-100 (`parts.<name>`) and bad weights
    /// (`service_type_rules.procedural[i]`, `…personal[i]`).
    pub fn classify(&self, parts: &ServiceParts) -> Result<ServiceTyping, RuleError> {
        let mut v = Violations::default();
        check_weights(&self.procedural, "service_type_rules.procedural", &mut v);
        check_weights(&self.personal, "service_type_rules.personal", &mut v);
        if !(0.0..=100.0).contains(&self.high_from) {
            v.push(
                "service_type_rules.high_from",
                format!("must be 0-100 (got {})", self.high_from),
            );
        }
        for (name, value) in [
            ("responsiveness", parts.responsiveness),
            ("on_time", parts.on_time),
            ("attitude", parts.attitude),
            ("behaviour", parts.behaviour),
            ("language_skill", parts.language_skill),
        ] {
            if let Some(x) = value.filter(|x| !(0.0..=100.0).contains(x)) {
                v.push(format!("parts.{name}"), format!("must be 0-100 (got {x})"));
            }
        }
        v.into_result(()).map_err(RuleError::Invalid)?;

        let procedural = weighted_mean(&self.procedural, |p| parts.procedural(p)).map(|(m, _)| m);
        let personal = weighted_mean(&self.personal, |p| parts.personal(p)).map(|(m, _)| m);
        let service_type = procedural
            .zip(personal)
            .map(|(proc, pers)| ServiceType::of(proc >= self.high_from, pers >= self.high_from));
        Ok(ServiceTyping {
            procedural,
            personal,
            service_type,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(
        responsiveness: f64,
        on_time: f64,
        attitude: f64,
        behaviour: f64,
        language: f64,
    ) -> ServiceParts {
        ServiceParts {
            responsiveness: Some(responsiveness),
            on_time: Some(on_time),
            attitude: Some(attitude),
            behaviour: Some(behaviour),
            language_skill: Some(language),
        }
    }

    fn typed(p: ServiceParts) -> ServiceTyping {
        ServiceTypeRules::default().classify(&p).expect("valid")
    }

    #[test]
    fn the_four_quadrants_follow_the_two_side_scores() {
        // Procedural (90 + 80) / 2 = 85; personal (2×90 + 1.5×80 + 1.5×70) / 5 = 405 / 5 = 81.
        let t = typed(parts(90.0, 80.0, 90.0, 80.0, 70.0));
        assert_eq!((t.procedural, t.personal), (Some(85.0), Some(81.0)));
        assert_eq!(t.service_type, Some(ServiceType::Quality));
        // Procedural (60 + 70) / 2 = 65, personal 95: warm but slow.
        assert_eq!(
            typed(parts(60.0, 70.0, 95.0, 95.0, 95.0)).service_type,
            Some(ServiceType::Friendly)
        );
        // Procedural 95, personal (2×60 + 1.5×70 + 1.5×80) / 5 = 345 / 5 = 69: fast but cold.
        let t = typed(parts(95.0, 95.0, 60.0, 70.0, 80.0));
        assert_eq!(
            (t.personal, t.service_type),
            (Some(69.0), Some(ServiceType::Production))
        );
        assert_eq!(
            typed(parts(50.0, 50.0, 50.0, 50.0, 50.0)).service_type,
            Some(ServiceType::Cold)
        );
    }

    #[test]
    fn a_side_exactly_on_the_threshold_is_high() {
        assert_eq!(
            typed(parts(80.0, 80.0, 80.0, 80.0, 80.0)).service_type,
            Some(ServiceType::Quality)
        );
    }

    #[test]
    fn a_side_without_data_leaves_the_type_open() {
        let t = typed(ServiceParts {
            on_time: Some(90.0),
            ..ServiceParts::default()
        });
        // Only on time is present: procedural = 90.
        assert_eq!(
            (t.procedural, t.personal, t.service_type),
            (Some(90.0), None, None)
        );
    }

    #[test]
    fn parts_outside_0_100_are_refused_by_field() {
        let err = ServiceTypeRules::default()
            .classify(&ServiceParts {
                attitude: Some(101.0),
                ..ServiceParts::default()
            })
            .expect_err("invalid");
        let RuleError::Invalid(v) = err else {
            panic!("expected invalid input")
        };
        assert_eq!(v.0[0].field, "parts.attitude");
    }
}
