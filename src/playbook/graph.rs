//! The dependency graph of a playbook's steps: cycle detection with the whole cycle, execution
//! waves, and the schedule that gives the critical path and predicted finish times.
//!
//! Steps are numbered `0..n` in file order; `deps[i]` are the steps that `i` waits for.

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};

/// A validated acyclic dependency graph.
#[derive(Clone, Debug)]
pub struct Dag {
    deps: Vec<Vec<usize>>,
    dependents: Vec<Vec<usize>>,
    order: Vec<usize>,
}

/// When each step would start and finish with unlimited parallelism.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// Start time of each step, in milliseconds from the drill start.
    pub start: Vec<u64>,
    /// Finish time of each step.
    pub finish: Vec<u64>,
    /// The dependency that finishes last, which decides the step's start.
    pub critical_dep: Vec<Option<usize>>,
}

impl Dag {
    /// Builds the graph; the error lists every cycle, each as the steps along it (the first
    /// step depends on the second, ..., the last on the first).
    pub fn new(mut deps: Vec<Vec<usize>>) -> Result<Self, Vec<Vec<usize>>> {
        let n = deps.len();
        for d in &mut deps {
            d.sort_unstable();
            d.dedup();
        }
        let mut graph: DiGraph<(), ()> = DiGraph::with_capacity(n, deps.iter().map(Vec::len).sum());
        for _ in 0..n {
            graph.add_node(());
        }
        for (i, ds) in deps.iter().enumerate() {
            for &d in ds {
                graph.add_edge(NodeIndex::new(d), NodeIndex::new(i), ());
            }
        }
        let order = match toposort(&graph, None) {
            Ok(order) => order.into_iter().map(NodeIndex::index).collect(),
            Err(_) => return Err(find_cycles(&graph, &deps)),
        };
        let mut dependents = vec![Vec::new(); n];
        for (i, ds) in deps.iter().enumerate() {
            for &d in ds {
                dependents[d].push(i);
            }
        }
        Ok(Self {
            deps,
            dependents,
            order,
        })
    }

    /// The number of steps.
    pub fn len(&self) -> usize {
        self.deps.len()
    }

    /// Whether there are no steps.
    pub fn is_empty(&self) -> bool {
        self.deps.is_empty()
    }

    /// The steps that `i` waits for.
    pub fn deps(&self, i: usize) -> &[usize] {
        &self.deps[i]
    }

    /// The steps that wait for `i`.
    pub fn dependents(&self, i: usize) -> &[usize] {
        &self.dependents[i]
    }

    /// A topological order: every step after the steps it waits for.
    pub fn topo_order(&self) -> &[usize] {
        &self.order
    }

    /// Execution waves: wave `k` holds the steps whose longest chain of dependencies has `k`
    /// links; each wave's steps can run together once the earlier waves are done. Steps are
    /// in file order within a wave.
    pub fn waves(&self) -> Vec<Vec<usize>> {
        let mut level = vec![0usize; self.len()];
        let mut waves: Vec<Vec<usize>> = Vec::new();
        for &i in &self.order {
            level[i] = self.deps[i]
                .iter()
                .map(|&d| level[d] + 1)
                .max()
                .unwrap_or(0);
        }
        for (i, &l) in level.iter().enumerate() {
            if waves.len() <= l {
                waves.resize_with(l + 1, Vec::new);
            }
            waves[l].push(i);
        }
        waves
    }

    /// Start and finish times with unlimited parallelism, given each step's duration in
    /// milliseconds.
    pub fn schedule(&self, duration_ms: &[u64]) -> Schedule {
        let n = self.len();
        let mut start = vec![0u64; n];
        let mut finish = vec![0u64; n];
        let mut critical_dep = vec![None; n];
        for &i in &self.order {
            // The latest-finishing dependency; the first in file order among equals.
            let latest =
                self.deps[i]
                    .iter()
                    .copied()
                    .fold(None, |best: Option<usize>, d| match best {
                        Some(b) if finish[b] >= finish[d] => Some(b),
                        _ => Some(d),
                    });
            start[i] = latest.map_or(0, |d| finish[d]);
            finish[i] = start[i].saturating_add(duration_ms[i]);
            critical_dep[i] = latest;
        }
        Schedule {
            start,
            finish,
            critical_dep,
        }
    }
}

impl Schedule {
    /// The chain of steps that decides when `step` finishes, first step first.
    pub fn path_to(&self, step: usize) -> Vec<usize> {
        let mut path = vec![step];
        let mut at = step;
        while let Some(d) = self.critical_dep[at] {
            path.push(d);
            at = d;
        }
        path.reverse();
        path
    }

    /// The critical path of the whole drill: the chain to the step that finishes last (the
    /// first in file order among equals). Empty for an empty graph.
    pub fn critical_path(&self) -> Vec<usize> {
        let last = (0..self.finish.len()).fold(None, |best: Option<usize>, i| match best {
            Some(b) if self.finish[b] >= self.finish[i] => Some(b),
            _ => Some(i),
        });
        last.map_or_else(Vec::new, |l| self.path_to(l))
    }

    /// When the last step finishes.
    pub fn makespan(&self) -> u64 {
        self.finish.iter().copied().max().unwrap_or(0)
    }
}

/// Every cycle, one per strongly connected component, each the shortest cycle through the
/// component's first step in file order.
fn find_cycles(graph: &DiGraph<(), ()>, deps: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut cycles = Vec::new();
    for component in tarjan_scc(graph) {
        let members: Vec<usize> = component.iter().map(|n| n.index()).collect();
        let first = members
            .iter()
            .copied()
            .min()
            .expect("a component is never empty");
        if members.len() == 1 && !deps[first].contains(&first) {
            continue;
        }
        let in_component = |i: usize| members.contains(&i);
        // Breadth-first along "depends on" edges, back to `first`.
        let mut parent: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
        let mut queue = std::collections::VecDeque::from([first]);
        let mut closing = None;
        'search: while let Some(at) = queue.pop_front() {
            for &d in &deps[at] {
                if d == first {
                    closing = Some(at);
                    break 'search;
                }
                if in_component(d) && !parent.contains_key(&d) {
                    parent.insert(d, at);
                    queue.push_back(d);
                }
            }
        }
        let mut path = Vec::new();
        let mut at =
            closing.expect("a strongly connected component has a cycle through every member");
        while at != first {
            path.push(at);
            at = parent[&at];
        }
        path.push(first);
        path.reverse();
        cycles.push(path);
    }
    cycles.sort();
    cycles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waves_and_critical_path() {
        // 0 <- 1 <- 3, 0 <- 2 <- 3
        let dag = Dag::new(vec![vec![], vec![0], vec![0], vec![1, 2]]).expect("acyclic");
        assert_eq!(dag.waves(), vec![vec![0], vec![1, 2], vec![3]]);
        let s = dag.schedule(&[10, 5, 20, 1]);
        assert_eq!(s.critical_path(), vec![0, 2, 3]);
        assert_eq!(s.makespan(), 31);
        assert_eq!(s.start[3], 30);
    }

    #[test]
    fn reports_each_cycle_whole() {
        // 0 -> 1 -> 2 -> 0, and 3 -> 3, and 4 fine.
        let cycles =
            Dag::new(vec![vec![1], vec![2], vec![0], vec![3], vec![]]).expect_err("cycles");
        assert_eq!(cycles, vec![vec![0, 1, 2], vec![3]]);
    }
}
