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
    /// Calls `visit(depth, value)` for every stored prefix of `digits`, shortest first.
    #[inline]
    pub fn for_each_prefix<'a>(&'a self, digits: &[u8], mut visit: impl FnMut(usize, &'a V)) {
        let mut node = self.nodes[0];
        if node.value != NO_VALUE {
            visit(0, &self.values[node.value as usize]);
        }
        for (i, &b) in digits.iter().enumerate() {
            let d = b.wrapping_sub(b'0');
            if d > 9 || node.mask & (1 << d) == 0 {
                return;
            }
            let rank = (node.mask & ((1u16 << d) - 1)).count_ones();
            node = self.nodes[(node.first_child + rank) as usize];
            if node.value != NO_VALUE {
                visit(i + 1, &self.values[node.value as usize]);
            }
        }
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
        }
    }
}
