//! The stage graph: execution order from `needs`, cycle detection, and dot/mermaid rendering.
