//! The file graph: an edge A -> B when A refers to something B defines, its strongly connected
//! components (Tarjan), and a Graphviz rendering so a drawing of it can be reproduced.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::model::{Crate, FileId};
use crate::refs::FileRefs;

/// One edge with the first reference (lowest line) that made it.
pub struct Edge {
    pub from: FileId,
    pub to: FileId,
    pub line: usize,
    pub written: String,
    pub target: String,
}

/// Deduplicated edges between distinct files, sorted by (from, to).
pub fn edges(c: &Crate, refs: &[FileRefs]) -> Vec<Edge> {
    let mut seen: BTreeMap<(FileId, FileId), Edge> = BTreeMap::new();
    for (from, fr) in refs.iter().enumerate() {
        for r in &fr.refs {
            let Some(to) = c.target_file(&r.resolved.target) else { continue };
            if to == from {
                continue;
            }
            let edge = Edge { from, to, line: r.line, written: r.written(), target: c.canonical(&r.resolved.target) };
            let slot = seen.entry((from, to)).or_insert(edge);
            if r.line < slot.line {
                *slot = Edge { from, to, line: r.line, written: r.written(), target: c.canonical(&r.resolved.target) };
            }
        }
    }
    seen.into_values().collect()
}

/// The strongly connected components with more than one node, each sorted, in order of their
/// smallest node.
pub fn cycles(nodes: usize, edges: &[Edge]) -> Vec<Vec<FileId>> {
    let mut adj = vec![Vec::new(); nodes];
    for e in edges {
        adj[e.from].push(e.to);
    }
    let mut t = Tarjan {
        adj,
        index: vec![None; nodes],
        low: vec![0; nodes],
        stack: Vec::new(),
        on_stack: vec![false; nodes],
        next: 0,
        out: Vec::new(),
    };
    for v in 0..nodes {
        if t.index[v].is_none() {
            t.connect(v);
        }
    }
    let mut sccs: Vec<Vec<FileId>> = t.out.into_iter().filter(|s| s.len() > 1).collect();
    sccs.iter_mut().for_each(|s| s.sort_unstable());
    sccs.sort();
    sccs
}

struct Tarjan {
    adj: Vec<Vec<usize>>,
    index: Vec<Option<usize>>,
    low: Vec<usize>,
    stack: Vec<usize>,
    on_stack: Vec<bool>,
    next: usize,
    out: Vec<Vec<usize>>,
}

impl Tarjan {
    /// Recursive: module graphs are tens of nodes deep at most.
    fn connect(&mut self, v: usize) {
        self.index[v] = Some(self.next);
        self.low[v] = self.next;
        self.next += 1;
        self.stack.push(v);
        self.on_stack[v] = true;
        for i in 0..self.adj[v].len() {
            let w = self.adj[v][i];
            match self.index[w] {
                None => {
                    self.connect(w);
                    self.low[v] = self.low[v].min(self.low[w]);
                }
                Some(iw) if self.on_stack[w] => self.low[v] = self.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(self.low[v]) == self.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = self.stack.pop() {
                self.on_stack[w] = false;
                scc.push(w);
                if w == v {
                    break;
                }
            }
            self.out.push(scc);
        }
    }
}

/// Graphviz DOT: one node per file (labelled with its module path), files of a cycle filled and
/// grouped in a cluster, edges inside a cycle red.
pub fn dot(c: &Crate, edges: &[Edge], cycles: &[Vec<FileId>]) -> String {
    let mut cycle_of = vec![None; c.files.len()];
    for (i, scc) in cycles.iter().enumerate() {
        scc.iter().for_each(|&f| cycle_of[f] = Some(i));
    }
    let node = |f: FileId| format!("\"{}\"", c.files[f].path.display());
    let mut out = String::from("digraph modules {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n");
    for (i, scc) in cycles.iter().enumerate() {
        let _ = writeln!(out, "  subgraph cluster_cycle_{i} {{\n    label=\"cycle {}\";\n    color=red;", i + 1);
        for &f in scc {
            let _ = writeln!(out, "    {};", node(f));
        }
        out.push_str("  }\n");
    }
    for (f, file) in c.files.iter().enumerate() {
        let label = c.modules[file.module].display();
        let style = if cycle_of[f].is_some() { ", style=filled, fillcolor=\"#ffd7d7\"" } else { "" };
        let _ = writeln!(out, "  {} [label=\"{label}\"{style}];", node(f));
    }
    for e in edges {
        let in_cycle = cycle_of[e.from].is_some() && cycle_of[e.from] == cycle_of[e.to];
        let attrs = if in_cycle { " [color=red]" } else { "" };
        let _ = writeln!(out, "  {} -> {}{attrs};", node(e.from), node(e.to));
    }
    out.push_str("}\n");
    out
}
