// Binds the traversal source `g` that clients (gremlinpython, rdg) connect to.
def globals = [:]
globals << [g : graph.traversal()]
