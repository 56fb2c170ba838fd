//! Union-find over document ordinals whose root is always the smallest member, so that the kept
//! document of a cluster is the earliest in corpus order whatever the order of the unions.

pub struct UnionFind {
    parent: Vec<u32>,
}

impl UnionFind {
    pub fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n as u32).collect(),
        }
    }

    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let grand = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grand;
            x = grand;
        }
        x
    }

    /// The root of `x` without path compression, for shared use across threads.
    pub fn root(&self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            x = self.parent[x as usize];
        }
        x
    }

    /// Merges the clusters of `a` and `b`; the smaller root becomes the root of both.
    pub fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (small, large) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent[large as usize] = small;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn root_is_the_smallest_member_of_each_component(
            edges in proptest::collection::vec((0u32..20, 0u32..20), 0..30),
        ) {
            let mut uf = UnionFind::new(20);
            for &(a, b) in &edges {
                uf.union(a, b);
            }
            // Oracle: components by repeated relaxation of labels to the minimum.
            let mut label: Vec<u32> = (0..20).collect();
            loop {
                let mut changed = false;
                for &(a, b) in &edges {
                    let m = label[a as usize].min(label[b as usize]);
                    for x in [a, b] {
                        if label[x as usize] != m {
                            label[x as usize] = m;
                            changed = true;
                        }
                    }
                }
                if !changed { break; }
            }
            for x in 0..20u32 {
                prop_assert_eq!(uf.root(x), label[x as usize]);
                prop_assert_eq!(uf.find(x), label[x as usize]);
            }
        }
    }
}
