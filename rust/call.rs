//! One call as the switch or CDR presents it: the call fields of the CDR contract.

pub use crate::normalize::Ingress;

/// STIR/SHAKEN attestation level of the call's identity header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Attestation {
    /// Full: the originator knows the customer and their right to the number.
    A,
    /// Partial: knows the customer, not their right to the number.
    B,
    /// Gateway: only where the call entered the network.
    C,
}

impl Attestation {
    /// Parses `A`, `B` or `C` (case-insensitive).
    pub fn parse(s: &str) -> Option<Attestation> {
        // The byte itself, as calls carry it, before the Unicode-aware trim.
        let letter = match s.as_bytes() {
            &[b] => b,
            _ => match s.trim().as_bytes() {
                &[b] => b,
                _ => return None,
            },
        };
        match letter.to_ascii_uppercase() {
            b'A' => Some(Attestation::A),
            b'B' => Some(Attestation::B),
            b'C' => Some(Attestation::C),
            _ => None,
        }
    }

    /// `"A"`, `"B"` or `"C"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Attestation::A => "A",
            Attestation::B => "B",
            Attestation::C => "C",
        }
    }
}

/// A call to score. Strings are borrowed: nothing is copied on the way in.
#[derive(Clone, Copy, Debug)]
pub struct Call<'a> {
    /// Unix seconds, when known.
    pub timestamp: Option<f64>,
    /// The presented CLI, raw.
    pub caller: &'a str,
    /// The dialled number, raw.
    pub callee: &'a str,
    /// How the call reached the network.
    pub ingress: Ingress,
    /// The caller is a home subscriber roaming abroad (`None`: unknown).
    pub roaming: Option<bool>,
    /// STIR/SHAKEN attestation, if any.
    pub attestation: Option<Attestation>,
    /// Seconds, once the call has ended.
    pub duration: Option<f64>,
    /// Trunk or gateway, free text.
    pub trunk: &'a str,
    /// The network-asserted identity (P-Asserted-Identity) where it differs from the CLI.
    pub network_number: Option<&'a str>,
}

impl Call<'static> {
    /// An empty call on `international` ingress; fill the fields with struct-update syntax.
    pub fn international() -> Call<'static> {
        Call {
            ingress: Ingress::International,
            ..Call::national()
        }
    }

    /// An empty call on `national` ingress.
    pub fn national() -> Call<'static> {
        Call {
            timestamp: None,
            caller: "",
            callee: "",
            ingress: Ingress::National,
            roaming: None,
            attestation: None,
            duration: None,
            trunk: "",
            network_number: None,
        }
    }
}
