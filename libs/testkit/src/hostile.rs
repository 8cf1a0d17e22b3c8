//! Hostile requests for any RPC of the contract, built from its descriptors: empty and huge
//! strings, NUL and right-to-left characters, invalid UTF-8, negative and huge numbers, unknown
//! enum numbers, far-past and far-future timestamps, out-of-range nanos, repeated fields by the
//! thousand, unknown fields, garbage, truncated and oversized bodies, groups nested beyond the
//! decoder's limit, and garbage or tampered page tokens. The bad-input test sends them to every
//! RPC of every service; a new RPC or field is covered without a new line.
//!
//! Random requests come from a seeded generator, so a failure is reproduced by its seed.

use std::collections::HashMap;

use prost::Message as _;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto};

/// The messages of the contract, by fully qualified name (`.csops.customers.v1.Customer`).
#[derive(Debug)]
pub struct Schema {
    messages: HashMap<String, DescriptorProto>,
    /// Each enum's defined numbers, by fully qualified name.
    enums: HashMap<String, Vec<i32>>,
}

impl Schema {
    /// Reads the compiled descriptor set of every csops contract.
    ///
    /// # Panics
    /// Panics when the embedded descriptor set does not decode (a build defect).
    pub fn load() -> Self {
        let set = prost_types::FileDescriptorSet::decode(csops_proto::FILE_DESCRIPTOR_SET)
            .expect("the compiled descriptor set decodes");
        let mut messages = HashMap::new();
        let mut enums = HashMap::new();
        let numbers = |e: &prost_types::EnumDescriptorProto| -> Vec<i32> {
            e.value.iter().map(|v| v.number()).collect()
        };
        for file in &set.file {
            let package = format!(".{}", file.package());
            walk(&package, &file.message_type, &mut messages);
            for e in &file.enum_type {
                enums.insert(format!("{package}.{}", e.name()), numbers(e));
            }
        }
        for (name, m) in &messages {
            for e in &m.enum_type {
                enums.insert(format!("{name}.{}", e.name()), numbers(e));
            }
        }
        Self { messages, enums }
    }

    /// The message named `name`, if the contract has it.
    pub fn message(&self, name: &str) -> Option<&DescriptorProto> {
        self.messages.get(name)
    }

    /// The number of `message`'s field called `field`.
    pub fn field_number(&self, message: &str, field: &str) -> Option<u32> {
        self.message(message)?
            .field
            .iter()
            .find(|f| f.name() == field)
            .and_then(|f| u32::try_from(f.number()).ok())
    }
}

/// Indexes `list` and the messages nested in them under `prefix`.
fn walk(prefix: &str, list: &[DescriptorProto], out: &mut HashMap<String, DescriptorProto>) {
    for m in list {
        let name = format!("{prefix}.{}", m.name());
        walk(&name, &m.nested_type, out);
        out.insert(name, m.clone());
    }
}

/// A small, fast, seeded generator (SplitMix64): the same seed gives the same requests.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// True with probability `num`/`den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.next_u64() % den.max(1) < num
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Real values that let generated requests reach past the first lookup: ids of records that
/// exist and page tokens the services issued.
#[derive(Debug, Clone, Default)]
pub struct Hints {
    /// Ids of existing records (customers, complaints, plans, …).
    pub ids: Vec<String>,
    /// Page tokens the services handed out (sent tampered, and as they are).
    pub page_tokens: Vec<String>,
}

/// The largest body a random request grows to before it stops adding fields.
const BUDGET: usize = 2 << 20;

/// A body over the servers' 4 MiB limit on a request.
const OVERSIZED: usize = 5 << 20;

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(out: &mut Vec<u8>, number: u32, wire_type: u8) {
    varint(out, (u64::from(number) << 3) | u64::from(wire_type));
}

fn delimited(out: &mut Vec<u8>, number: u32, bytes: &[u8]) {
    key(out, number, 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn number_of(field: &FieldDescriptorProto) -> u32 {
    u32::try_from(field.number()).unwrap_or(1)
}

/// Strings that break careless code: empty, blank, at and past every documented maximum
/// (100, 1,000, 4,000 characters), huge, NUL, control and bidi characters, multi-byte text,
/// injection attempts.
fn hostile_string(rng: &mut Rng) -> String {
    let lens = [
        0usize, 1, 99, 100, 101, 500, 1000, 1001, 4000, 4001, 20_000, 200_000,
    ];
    match rng.below(16) {
        0 => String::new(),
        1 => " \t\n".to_owned(),
        2 => "\0".to_owned(),
        3 => "nul\0inside".to_owned(),
        4 => "'; DROP TABLE customers; --".to_owned(),
        5 => "%s%n%x{}{{}}$1\\".to_owned(),
        6 => "\u{202E}evil\u{200B}\u{FEFF}".to_owned(),
        7 => "投诉处理".repeat(*rng.pick(&[1usize, 25, 26, 300, 1001])),
        8 => "😀".repeat(*rng.pick(&[1usize, 100, 101, 1001])),
        9 => "\u{1}\u{7f}\u{1b}[31m".to_owned(),
        10 => "../../etc/passwd".to_owned(),
        11 => "9".repeat(*rng.pick(&[19usize, 20, 40])),
        12 => "2026-02-30T25:61:00Z".to_owned(),
        _ => "x".repeat(*rng.pick(&lens)),
    }
}

/// Flips one character of a real page token, or makes one up.
fn hostile_page_token(rng: &mut Rng, hints: &Hints) -> String {
    match (rng.below(4), hints.page_tokens.is_empty()) {
        (0, _) | (_, true) => hostile_string(rng),
        (1, false) => rng.pick(&hints.page_tokens).clone(),
        (2, false) => {
            let mut token: Vec<char> = rng.pick(&hints.page_tokens).chars().collect();
            let at = rng.below(token.len());
            token[at] = if token[at] == 'A' { 'B' } else { 'A' };
            token.into_iter().collect()
        }
        _ => {
            let token = rng.pick(&hints.page_tokens);
            format!("{token}{}", "A".repeat(*rng.pick(&[1usize, 4, 2000])))
        }
    }
}

fn hostile_int(rng: &mut Rng) -> i64 {
    *rng.pick(&[
        0,
        1,
        -1,
        2,
        7,
        99,
        100,
        101,
        500,
        501,
        1000,
        1001,
        100_000,
        i64::from(i32::MAX),
        i64::from(i32::MIN),
        i64::MAX,
        i64::MIN,
    ])
}

fn hostile_enum(rng: &mut Rng) -> i64 {
    *rng.pick(&[
        0,
        1,
        2,
        3,
        4,
        5,
        9,
        99,
        1000,
        -1,
        i64::from(i32::MAX),
        i64::from(i32::MIN),
    ])
}

fn hostile_double(rng: &mut Rng) -> f64 {
    *rng.pick(&[
        0.0,
        -0.0,
        -1.0,
        0.5,
        1.0,
        5.0,
        10.0,
        100.0,
        1e308,
        -1e308,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MIN_POSITIVE,
    ])
}

/// Seconds of a timestamp: the epoch, before year 1, after year 9999, the extremes, now-ish.
fn hostile_seconds(rng: &mut Rng) -> i64 {
    *rng.pick(&[
        0,
        -1,
        -62_135_596_800,
        -62_135_596_801,
        253_402_300_799,
        253_402_300_800,
        i64::MAX,
        i64::MIN,
        1_796_000_000,
        1_796_000_000 + 86_400 * 365 * 200,
        315_576_000_001,
    ])
}

fn hostile_nanos(rng: &mut Rng) -> i64 {
    *rng.pick(&[0, 0, 1, 999_999_999, 1_000_000_000, -1, i64::from(i32::MAX)])
}

/// How often a value is drawn from the hostile pools: `num` in `den`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Odds(u64, u64);

impl Odds {
    const ALWAYS: Odds = Odds(1, 1);
    const SOMETIMES: Odds = Odds(1, 8);
}

fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

/// Builds hostile request bodies for the messages of a [`Schema`].
#[derive(Debug)]
pub struct Hostile<'a> {
    schema: &'a Schema,
    hints: &'a Hints,
}

impl<'a> Hostile<'a> {
    /// A builder over `schema`, using `hints` for ids and page tokens.
    pub fn new(schema: &'a Schema, hints: &'a Hints) -> Self {
        Self { schema, hints }
    }

    /// The fixed cases for a request of type `input`, each with what it is: the empty message,
    /// garbage, a truncated body, invalid UTF-8 in a string field, a wrong wire type, unknown
    /// fields only, one field sent 10,000 times, groups nested 200 deep, a body over the size
    /// limit.
    pub fn fixed(&self, input: &str) -> Vec<(String, Vec<u8>)> {
        let fields = self
            .schema
            .message(input)
            .map(|m| m.field.clone())
            .unwrap_or_default();
        let first_string = fields.iter().find(|f| f.r#type() == Type::String);
        let first = fields.first();
        let mut cases = vec![
            ("the empty message".to_owned(), Vec::new()),
            (
                "garbage bytes".to_owned(),
                vec![0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x13, 0x37],
            ),
            // Claims 100 bytes of field 1 and ends after 3.
            (
                "a truncated body".to_owned(),
                vec![0x0a, 0x64, b'a', b'b', b'c'],
            ),
        ];
        if let Some(f) = first_string {
            let mut body = Vec::new();
            delimited(
                &mut body,
                number_of(f),
                &[b'o', b'k', 0xc3, 0x28, 0xff, 0xfe],
            );
            cases.push((format!("invalid UTF-8 in {}", f.name()), body));
        }
        if let Some(f) = first {
            let mut body = Vec::new();
            if matches!(f.r#type(), Type::String | Type::Bytes | Type::Message) {
                key(&mut body, number_of(f), 5);
                body.extend_from_slice(&[1, 2, 3, 4]);
            } else {
                delimited(&mut body, number_of(f), b"not a number");
            }
            cases.push((format!("the wrong wire type for {}", f.name()), body));
            let mut body = Vec::new();
            for _ in 0..10_000 {
                match f.r#type() {
                    Type::String | Type::Bytes => delimited(&mut body, number_of(f), b"again"),
                    Type::Message => delimited(&mut body, number_of(f), &[]),
                    _ => {
                        key(&mut body, number_of(f), 0);
                        varint(&mut body, 1);
                    }
                }
            }
            cases.push((format!("{} sent 10,000 times", f.name()), body));
        }
        let mut unknown = Vec::new();
        key(&mut unknown, 9_999, 0);
        varint(&mut unknown, u64::MAX);
        delimited(&mut unknown, 10_000, b"unknown");
        cases.push(("unknown fields only".to_owned(), unknown));
        // Groups nested 200 deep in an unknown field: past the decoder's recursion limit.
        let mut nested = Vec::new();
        for _ in 0..200 {
            key(&mut nested, 9_998, 3);
        }
        for _ in 0..200 {
            key(&mut nested, 9_998, 4);
        }
        cases.push(("groups nested 200 deep".to_owned(), nested));
        let mut oversized = Vec::new();
        delimited(&mut oversized, 9_997, &vec![b'x'; OVERSIZED]);
        cases.push(("a 5 MiB body".to_owned(), oversized));
        cases
    }

    /// A random request of type `input` from `seed`: each field present or not, every value
    /// drawn from the hostile pools, repeated fields from 1 to 1,000 entries.
    pub fn random(&self, input: &str, seed: u64) -> Vec<u8> {
        let mut rng = Rng::new(seed);
        let mut out = Vec::new();
        self.message(input, 0, &mut rng, Odds::ALWAYS, &mut out);
        out
    }

    /// A random request of type `input` from `seed` that is mostly plausible (defined enum
    /// values, real ids, short texts, times in the coming days) with about one value in eight
    /// hostile: such a request passes more of the checks and reaches the use case, where a
    /// hostile value that slipped through would do its damage.
    pub fn nearly_valid(&self, input: &str, seed: u64) -> Vec<u8> {
        let mut rng = Rng::new(seed);
        let mut out = Vec::new();
        self.message(input, 0, &mut rng, Odds::SOMETIMES, &mut out);
        out
    }

    fn message(&self, name: &str, depth: usize, rng: &mut Rng, odds: Odds, out: &mut Vec<u8>) {
        let hostile = rng.chance(odds.0, odds.1);
        match name {
            ".google.protobuf.Timestamp" | ".google.protobuf.Duration" if !hostile => {
                let seconds = if name.ends_with("Duration") {
                    *rng.pick(&[60i64, 3600, 86_400])
                } else {
                    now_seconds() + *rng.pick(&[3600i64, 86_400, 7 * 86_400])
                };
                key(out, 1, 0);
                varint(out, seconds as u64);
                return;
            }
            ".google.protobuf.FieldMask" if !hostile => return,
            ".google.protobuf.Timestamp" | ".google.protobuf.Duration" => {
                if rng.chance(3, 4) {
                    key(out, 1, 0);
                    varint(out, hostile_seconds(rng) as u64);
                }
                if rng.chance(1, 2) {
                    key(out, 2, 0);
                    varint(out, hostile_nanos(rng) as u64);
                }
                return;
            }
            ".google.protobuf.FieldMask" => {
                for _ in 0..*rng.pick(&[1usize, 2, 3, 200]) {
                    let path = match rng.below(4) {
                        0 => "*".to_owned(),
                        1 => "id".to_owned(),
                        2 => "a.b.c".to_owned(),
                        _ => hostile_string(rng),
                    };
                    delimited(out, 1, path.as_bytes());
                }
                return;
            }
            _ => {}
        }
        let Some(message) = self.schema.message(name) else {
            return;
        };
        let (present, of) = if odds == Odds::ALWAYS { (1, 2) } else { (4, 5) };
        for field in &message.field {
            if out.len() > BUDGET || !rng.chance(present, of) {
                continue;
            }
            let count = if field.label() == Label::Repeated {
                if odds != Odds::ALWAYS {
                    *rng.pick(&[1usize, 1, 2])
                } else if depth == 0 {
                    *rng.pick(&[1usize, 1, 2, 3, 101, 1001])
                } else {
                    *rng.pick(&[1usize, 2, 3])
                }
            } else {
                1
            };
            for _ in 0..count {
                if rng.chance(odds.0, odds.1) || field.r#type() == Type::Message {
                    self.field(field, depth, rng, odds, out);
                } else {
                    self.plausible(field, rng, out);
                }
            }
        }
        if odds == Odds::ALWAYS && rng.chance(1, 8) {
            delimited(out, 9_999, b"an unknown field");
        }
    }

    /// A value a real caller might send for `field` (not a message).
    fn plausible(&self, field: &FieldDescriptorProto, rng: &mut Rng, out: &mut Vec<u8>) {
        let number = number_of(field);
        let name = field.name();
        match field.r#type() {
            Type::String => {
                let value = if name == "page_token" || name == "etag" {
                    String::new()
                } else if name == "request_id" {
                    format!("req-{}", rng.next_u64())
                } else if (name.ends_with("_id") || name == "id") && !self.hints.ids.is_empty() {
                    rng.pick(&self.hints.ids).clone()
                } else {
                    (*rng.pick(&[
                        "ok",
                        "Broadband drops every evening",
                        "agent-7",
                        "lead-1",
                        "2026-12-10",
                        "+86 138 0013 8000",
                        "li.na@example.com",
                    ]))
                    .to_owned()
                };
                delimited(out, number, value.as_bytes());
            }
            Type::Enum => {
                let mut defined: Vec<i32> = self
                    .schema
                    .enums
                    .get(field.type_name())
                    .map(|v| v.iter().copied().filter(|n| *n != 0).collect())
                    .unwrap_or_default();
                if defined.is_empty() {
                    defined.push(1);
                }
                key(out, number, 0);
                varint(out, i64::from(*rng.pick(&defined)) as u64);
            }
            Type::Bool => {
                key(out, number, 0);
                varint(out, rng.next_u64() & 1);
            }
            Type::Int32
            | Type::Int64
            | Type::Uint32
            | Type::Uint64
            | Type::Sint32
            | Type::Sint64 => {
                let v: i64 = if name == "page_size" {
                    10
                } else {
                    *rng.pick(&[1i64, 2, 3, 5])
                };
                key(out, number, 0);
                if matches!(field.r#type(), Type::Sint32 | Type::Sint64) {
                    varint(out, (v << 1) as u64);
                } else {
                    varint(out, v as u64);
                }
            }
            Type::Double | Type::Fixed64 | Type::Sfixed64 => {
                key(out, number, 1);
                out.extend_from_slice(&(*rng.pick(&[1.0f64, 4.0, 5.0])).to_le_bytes());
            }
            Type::Float | Type::Fixed32 | Type::Sfixed32 => {
                key(out, number, 5);
                out.extend_from_slice(&(*rng.pick(&[1.0f32, 4.0, 5.0])).to_le_bytes());
            }
            Type::Bytes | Type::Message | Type::Group => {}
        }
    }

    fn field(
        &self,
        field: &FieldDescriptorProto,
        depth: usize,
        rng: &mut Rng,
        odds: Odds,
        out: &mut Vec<u8>,
    ) {
        let number = number_of(field);
        let name = field.name();
        match field.r#type() {
            Type::String => {
                let value = if name == "page_token" {
                    hostile_page_token(rng, self.hints)
                } else if (name.ends_with("_id") || name == "id")
                    && !self.hints.ids.is_empty()
                    && rng.chance(1, 2)
                {
                    rng.pick(&self.hints.ids).clone()
                } else {
                    hostile_string(rng)
                };
                delimited(out, number, value.as_bytes());
            }
            Type::Bytes => {
                let choices: [&[u8]; 3] = [&[], &[0xff, 0xfe, 0xc0], &[0u8; 64]];
                let value: &[u8] = choices[rng.below(choices.len())];
                delimited(out, number, value);
            }
            Type::Enum => {
                key(out, number, 0);
                varint(out, hostile_enum(rng) as u64);
            }
            Type::Bool => {
                key(out, number, 0);
                varint(out, *rng.pick(&[0u64, 1, 2, u64::MAX]));
            }
            Type::Int32 | Type::Int64 | Type::Uint32 | Type::Uint64 => {
                key(out, number, 0);
                varint(out, hostile_int(rng) as u64);
            }
            Type::Sint32 | Type::Sint64 => {
                let v = hostile_int(rng);
                key(out, number, 0);
                varint(out, ((v << 1) ^ (v >> 63)) as u64);
            }
            Type::Double | Type::Fixed64 | Type::Sfixed64 => {
                key(out, number, 1);
                out.extend_from_slice(&hostile_double(rng).to_le_bytes());
            }
            Type::Float | Type::Fixed32 | Type::Sfixed32 => {
                key(out, number, 5);
                out.extend_from_slice(&(hostile_double(rng) as f32).to_le_bytes());
            }
            Type::Message => {
                let mut inner = Vec::new();
                if depth < 6 {
                    self.message(field.type_name(), depth + 1, rng, odds, &mut inner);
                }
                delimited(out, number, &inner);
            }
            Type::Group => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use csops_proto::customers::v1 as pb;

    #[test]
    fn random_requests_are_well_formed_protobuf_and_repeat_with_their_seed() {
        let schema = Schema::load();
        let hints = Hints {
            ids: vec!["cus_1".into()],
            page_tokens: vec!["AAAABBBB".into()],
        };
        let hostile = Hostile::new(&schema, &hints);
        let mut decoded_with_fields = 0;
        let mut plausible_tiers = 0;
        for seed in 0..200 {
            let body = hostile.random(".csops.customers.v1.CreateCustomerRequest", seed);
            assert_eq!(
                body,
                hostile.random(".csops.customers.v1.CreateCustomerRequest", seed)
            );
            // Well-formed apart from invalid UTF-8, which only the fixed cases send: the
            // generated types decode whatever the values.
            let request = pb::CreateCustomerRequest::decode(body.as_slice()).unwrap();
            if request.customer.is_some() {
                decoded_with_fields += 1;
            }
            let body = hostile.nearly_valid(".csops.customers.v1.CreateCustomerRequest", seed);
            let request = pb::CreateCustomerRequest::decode(body.as_slice()).unwrap();
            if request
                .customer
                .is_some_and(|c| pb::CustomerTier::try_from(c.tier).is_ok())
            {
                plausible_tiers += 1;
            }
        }
        assert!(decoded_with_fields > 50, "{decoded_with_fields}");
        assert!(plausible_tiers > 100, "{plausible_tiers}");
    }

    #[test]
    fn the_fixed_cases_fail_to_decode_where_they_mean_to() {
        let schema = Schema::load();
        let hints = Hints::default();
        let cases = Hostile::new(&schema, &hints).fixed(".csops.customers.v1.GetCustomerRequest");
        let decodes = |what: &str| {
            let (_, body) = cases.iter().find(|(w, _)| w.starts_with(what)).unwrap();
            pb::GetCustomerRequest::decode(body.as_slice()).is_ok()
        };
        assert!(decodes("the empty message"));
        assert!(decodes("unknown fields only"));
        assert!(decodes("customer_id sent 10,000 times"));
        assert!(!decodes("garbage"));
        assert!(!decodes("a truncated body"));
        assert!(!decodes("invalid UTF-8"));
        assert!(!decodes("the wrong wire type"));
        assert!(!decodes("groups nested 200 deep"));
        assert_eq!(
            schema.field_number(".csops.customers.v1.ListCustomersRequest", "page_size"),
            Some(1)
        );
    }
}
