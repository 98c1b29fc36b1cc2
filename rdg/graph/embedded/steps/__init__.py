"""The Gremlin steps of the embedded graph, one module per family; importing this package
registers them all with :func:`rdg.graph.embedded.traversal.step`."""

from rdg.graph.embedded.steps import aggregate, algorithms, shortestpath, basic, dates, lists, maps, group, math, text, strings, order, logic, where, dedup, range, sample, simplepath, has, merge, properties, start, vertex, write, branch, repeat, match, sideeffect, countstrategy  # noqa: F401
