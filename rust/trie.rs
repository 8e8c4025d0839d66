//! A compact, immutable digit trie for longest-prefix lookups over number ranges.
//!
//! Nodes are laid out breadth-first in one array. Each node stores a 10-bit child mask, the
//! index of its first child and an optional payload index; the child for digit `d` sits at
//! `first_child + popcount(mask & ((1 << d) - 1))`. A node costs 12 bytes, so memory is
//! `12 × nodes + size_of::<V>() × prefixes`, with `nodes ≤ total prefix digits + 1`.

use serde::{Deserialize, Serialize};

const NO_VALUE: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Node {
    first_child: u32,
    value: u32,
    mask: u16,
}

/// An immutable prefix trie mapping digit strings to values of type `V`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PrefixTrie<V> {
    nodes: Vec<Node>,
    values: Vec<V>,
}

impl<V> Default for PrefixTrie<V> {
    fn default() -> Self {
        PrefixTrie {
            nodes: vec![Node {
                first_child: 0,
                value: NO_VALUE,
                mask: 0,
            }],
            values: Vec::new(),
        }
    }
}

/// Builds a [`PrefixTrie`]; inserting the same prefix twice keeps the later value.
#[derive(Debug)]
pub struct TrieBuilder<V> {
    children: Vec<[u32; 10]>,
    values: Vec<Option<V>>,
}

impl<V> Default for TrieBuilder<V> {
    fn default() -> Self {
        TrieBuilder {
            children: vec![[0; 10]],
            values: vec![None],
        }
    }
}

impl<V> TrieBuilder<V> {
    /// A builder holding only the empty root.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts `prefix` (ASCII digits; anything else is ignored) with `value`.
    pub fn insert(&mut self, prefix: &[u8], value: V) {
        let mut node = 0usize;
        for d in prefix
            .iter()
            .filter(|b| b.is_ascii_digit())
            .map(|b| usize::from(b - b'0'))
        {
            let next = self.children[node][d];
            node = if next == 0 {
                let id = self.children.len();
                self.children.push([0; 10]);
                self.values.push(None);
                self.children[node][d] = id as u32;
                id
            } else {
                next as usize
            };
        }
        self.values[node] = Some(value);
    }

    /// Freezes the builder into the compact breadth-first layout.
    pub fn build(mut self) -> PrefixTrie<V> {
        let mut nodes = Vec::with_capacity(self.children.len());
        let mut values = Vec::new();
        let mut queue = std::collections::VecDeque::from([0usize]);
        let mut next_free = 1u32;
        while let Some(old) = queue.pop_front() {
            let mut mask = 0u16;
            let first_child = next_free;
            for (d, &child) in self.children[old].iter().enumerate() {
                if child != 0 {
                    mask |= 1 << d;
                    queue.push_back(child as usize);
                    next_free += 1;
                }
            }
            let value = match self.values[old].take() {
                Some(v) => {
                    values.push(v);
                    (values.len() - 1) as u32
                }
                None => NO_VALUE,
            };
            nodes.push(Node {
                first_child,
                value,
                mask,
            });
        }
        PrefixTrie { nodes, values }
    }
}

impl<V> PrefixTrie<V> {
    /// Calls `visit(depth, value)` for every stored prefix of `digits`, shortest first. Never
    /// panics: an index out of range (a trie not [`validate`](PrefixTrie::validate)d) ends the
    /// walk there.
    #[inline]
    pub fn for_each_prefix<'a>(&'a self, digits: &[u8], visit: impl FnMut(usize, &'a V)) {
        self.walk(digits.iter().copied(), visit);
    }

    /// [`PrefixTrie::for_each_prefix`] of the digits `head` followed by `tail`, without
    /// joining them first.
    #[inline]
    pub fn for_each_prefix_split<'a>(
        &'a self,
        head: &[u8],
        tail: &[u8],
        visit: impl FnMut(usize, &'a V),
    ) {
        self.walk(head.iter().chain(tail).copied(), visit);
    }

    #[inline]
    fn walk<'a>(&'a self, digits: impl Iterator<Item = u8>, mut visit: impl FnMut(usize, &'a V)) {
        let Some(&root) = self.nodes.first() else {
            return;
        };
        let mut node = root;
        if let Some(v) = self.value(node) {
            visit(0, v);
        }
        for (i, b) in digits.enumerate() {
            let d = b.wrapping_sub(b'0');
            if d > 9 || node.mask & (1 << d) == 0 {
                return;
            }
            let rank = (node.mask & ((1u16 << d) - 1)).count_ones() as usize;
            match self.nodes.get(node.first_child as usize + rank) {
                Some(&next) => node = next,
                None => return,
            }
            if let Some(v) = self.value(node) {
                visit(i + 1, v);
            }
        }
    }

    #[inline]
    fn value(&self, node: Node) -> Option<&V> {
        match node.value {
            NO_VALUE => None,
            i => self.values.get(i as usize),
        }
    }

    /// Checks a trie read from outside (deserialised): a root, masks of digits only, every
    /// node's children inside the array and after it (breadth-first order, so no cycles),
    /// every value index in range and no value shared. The error names the first bad node.
    pub fn validate(&self) -> Result<(), String> {
        if self.nodes.is_empty() {
            return Err("no root node".into());
        }
        if u32::try_from(self.nodes.len()).is_err() || u32::try_from(self.values.len()).is_err() {
            return Err(format!(
                "{} nodes, {} values: too many",
                self.nodes.len(),
                self.values.len()
            ));
        }
        let mut used = vec![false; self.values.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            if n.mask >> 10 != 0 {
                return Err(format!(
                    "node {i}: child mask {:#x} has bits past digit 9",
                    n.mask
                ));
            }
            let children = n.mask.count_ones() as usize;
            let first = n.first_child as usize;
            if children != 0 && (first <= i || first + children > self.nodes.len()) {
                return Err(format!(
                    "node {i}: children {first}..{} outside {}..{}",
                    first + children,
                    i + 1,
                    self.nodes.len()
                ));
            }
            if n.value != NO_VALUE {
                match used.get_mut(n.value as usize) {
                    Some(seen) if !*seen => *seen = true,
                    Some(_) => return Err(format!("node {i}: value {} shared", n.value)),
                    None => {
                        return Err(format!(
                            "node {i}: value {} of {}",
                            n.value,
                            self.values.len()
                        ))
                    }
                }
            }
        }
        Ok(())
    }

    /// The stored values, in storage order.
    pub fn values(&self) -> &[V] {
        &self.values
    }

    /// The value of the longest stored prefix of `digits`, with its length.
    #[inline]
    pub fn longest_prefix(&self, digits: &[u8]) -> Option<(usize, &V)> {
        let mut best = None;
        self.for_each_prefix(digits, |depth, v| best = Some((depth, v)));
        best
    }

    /// The value stored for exactly `prefix`.
    pub fn get(&self, prefix: &[u8]) -> Option<&V> {
        self.longest_prefix(prefix)
            .filter(|(depth, _)| *depth == prefix.len())
            .map(|(_, v)| v)
    }

    /// How many prefixes carry a value.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True if no prefix carries a value.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Number of nodes (including the root).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Heap bytes used by the nodes and values (the figure the README reports per prefix).
    pub fn heap_bytes(&self) -> usize {
        self.nodes.len() * std::mem::size_of::<Node>()
            + self.values.len() * std::mem::size_of::<V>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn longest_prefix_wins() {
        let mut b = TrieBuilder::new();
        b.insert(b"7", 1);
        b.insert(b"770", 2);
        b.insert(b"7701", 3);
        let t = b.build();
        assert_eq!(t.longest_prefix(b"77012345"), Some((4, &3)));
        assert_eq!(t.longest_prefix(b"77023"), Some((3, &2)));
        assert_eq!(t.longest_prefix(b"79"), Some((1, &1)));
        assert_eq!(t.longest_prefix(b"8"), None);
        assert_eq!(t.get(b"770"), Some(&2));
        assert_eq!(t.get(b"77"), None);
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn empty_prefix_matches_everything() {
        let mut b = TrieBuilder::new();
        b.insert(b"", "root");
        let t = b.build();
        assert_eq!(t.longest_prefix(b"123"), Some((0, &"root")));
    }

    fn sample() -> PrefixTrie<u32> {
        let mut b = TrieBuilder::new();
        for (p, v) in [(&b"7"[..], 1), (b"770", 2), (b"7701", 3), (b"79", 4)] {
            b.insert(p, v);
        }
        b.build()
    }

    /// Fuzz regression (plan_bytes, range-trie-index-out-of-bounds): one flipped bit in a
    /// plan's range trie sent a lookup past the node array. Each damage below is refused by
    /// `validate`, and lookups in the damaged trie still return without panicking.
    #[test]
    fn damaged_tries_fail_validation_and_never_panic() {
        assert_eq!(sample().validate(), Ok(()));
        type Damage = fn(&mut PrefixTrie<u32>);
        let damages: [(&str, Damage); 8] = [
            ("no root", |t| t.nodes.clear()),
            ("child past the end", |t| t.nodes[1].first_child += 1000),
            ("child index overflow", |t| {
                t.nodes[1].first_child = u32::MAX
            }),
            ("child before parent", |t| t.nodes[2].first_child = 1),
            ("mask past digit 9", |t| t.nodes[0].mask |= 1 << 12),
            ("value past the end", |t| t.nodes[1].value = 4),
            ("value index max - 1", |t| t.nodes[1].value = u32::MAX - 1),
            ("value shared", |t| t.nodes[2].value = t.nodes[1].value),
        ];
        for (what, damage) in damages {
            let mut t = sample();
            damage(&mut t);
            assert!(t.validate().is_err(), "{what}");
            for probe in [&b"77012"[..], b"79", b"7", b"", b"770199"] {
                let _ = t.longest_prefix(probe);
                let _ = t.get(probe);
            }
        }
    }

    proptest! {
        #[test]
        fn agrees_with_a_map_of_prefixes(
            entries in proptest::collection::vec(("[0-9]{0,6}", 0u32..1000), 0..60),
            probe in "[0-9]{0,9}",
        ) {
            let mut model = BTreeMap::new();
            let mut b = TrieBuilder::new();
            for (p, v) in &entries {
                model.insert(p.clone(), *v);
                b.insert(p.as_bytes(), *v);
            }
            let t = b.build();
            let expected = (0..=probe.len()).rev()
                .find_map(|n| model.get(&probe[..n]).map(|v| (n, v)));
            prop_assert_eq!(t.longest_prefix(probe.as_bytes()), expected);
            prop_assert_eq!(t.len(), model.len());
            prop_assert_eq!(t.validate(), Ok(()));
        }

        /// Walking two parts visits what walking them joined does, at the same depths.
        #[test]
        fn split_walk_is_the_joined_walk(
            entries in proptest::collection::vec(("[0-9]{0,6}", 0u32..1000), 0..60),
            probe in "[0-9x]{0,9}",
            at in 0usize..10,
        ) {
            let mut b = TrieBuilder::new();
            for (p, v) in &entries {
                b.insert(p.as_bytes(), *v);
            }
            let t = b.build();
            let (head, tail) = probe.as_bytes().split_at(at.min(probe.len()));
            let mut joined = Vec::new();
            t.for_each_prefix(probe.as_bytes(), |n, v| joined.push((n, *v)));
            let mut split = Vec::new();
            t.for_each_prefix_split(head, tail, |n, v| split.push((n, *v)));
            prop_assert_eq!(split, joined);
        }
    }
}
