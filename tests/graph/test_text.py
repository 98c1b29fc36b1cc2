"""The Gremlin text parser (rdg/graph/_text.py): each form becomes the bytecode gremlinpython
would build, and nothing that runs code is read."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from gremlin_python import statics
from gremlin_python.process.anonymous_traversal import traversal
from gremlin_python.process.strategies import ReadOnlyStrategy
from gremlin_python.process.traversal import (
    DT,
    Barrier,
    Cardinality,
    CardinalityValue,
    Column,
    Direction,
    Enum,
    Merge,
    Operator,
    Order,
    P,
    Pick,
    Pop,
    Scope,
    T,
    TextP,
    WithOptions,
)
from gremlin_python.structure.io.util import SymbolUtil

from rdg.graph._text import (
    MAX_NESTING,
    GremlinSyntaxError,
    QueryWritesError,
    parse,
    parse_read_only,
    writes,
)

G = traversal().with_remote(None)


def steps(text: str, bindings: dict[str, Any] | None = None) -> list[list[Any]]:
    return parse(text, G, bindings or {}).bytecode.step_instructions


def arg(text: str, bindings: dict[str, Any] | None = None) -> Any:
    """The one argument of inject(...)."""
    (found,) = steps(f"g.inject({text})", bindings)[0][1:]
    return found


def refused(text: str, bindings: dict[str, Any] | None = None) -> str:
    with pytest.raises(GremlinSyntaxError) as err:
        parse(text, G, bindings or {})
    return str(err.value)


# -- maps and lists --------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("[:]", {}),
    ("[]", []),
    ("[1, 'a', null]", [1, "a", None]),
    ('["a": 1, "b": 2]', {"a": 1, "b": 2}),
    ("[name: 'marko', age: 29]", {"name": "marko", "age": 29}),  # a bare key is a string, as in Groovy
    ("[T.id: 1, (T.label): 'person']", {T.id: 1, T.label: "person"}),
    ("[(Direction.OUT): 1, 2: 'two']", {Direction.OUT: 1, 2: "two"}),
    ("[a: [b: [1, 2]], c: [:]]", {"a": {"b": [1, 2]}, "c": {}}),
    ("[[a: 1], [:]]", [{"a": 1}, {}]),
    ("[new: 1, id: 2]", {"new": 1, "id": 2}),  # keywords as keys are strings too
])
def test_collections(text: str, expected: Any) -> None:
    assert arg(text) == expected


def test_map_values_are_full_arguments() -> None:
    got = arg("[age: Cardinality.list(33), who: x, t: __.out('knows')]", {"x": "m1"})
    assert got["age"] == CardinalityValue.list_(33) and got["who"] == "m1"
    assert got["t"].step_instructions == [["out", "knows"]]  # gremlinpython keeps the traversal's bytecode


@pytest.mark.parametrize(("text", "message"), [
    ("[(1)]", "expected :"),
    ("[a: 1, 2]", "expected :"),
    ('[1, "a": 2]', "expected ]"),
    ("[([1]): 2]", "a map key must be a string, a number or an enum value"),
    ("[:", "expected ]"),
])
def test_bad_collections(text: str, message: str) -> None:
    assert message in refused(f"g.inject({text})")


# -- numbers and other literals ----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "kind", "value"), [
    ("1", int, 1), ("-3", int, -3), ("+3", int, 3), ("1i", int, 1), ("1L", statics.long, 1),
    ("2l", statics.long, 2), ("3s", statics.short, 3), ("4b", statics.SingleByte, 4), ("5n", statics.bigint, 5),
    ("2.5", float, 2.5), ("2.0d", float, 2.0), ("3D", float, 3.0), ("3f", float, 3.0), ("1e3", float, 1000.0),
])
def test_numbers(text: str, kind: type, value: Any) -> None:
    got = arg(text)
    assert type(got) is kind and got == value


def test_special_numbers_and_null() -> None:
    assert math.isnan(arg("NaN"))
    assert arg("Infinity") == arg("+Infinity") == math.inf and arg("-Infinity") == -math.inf
    assert arg("null") is None and arg("true") is True and arg("false") is False
    assert steps("g.V().is(P.eq(-Infinity))")[1][1] == P.eq(-math.inf)


def test_big_decimals() -> None:
    got = arg("1.50m")
    assert isinstance(got, statics.BigDecimal) and (got.scale, got.unscaled_value) == (2, 150)
    assert (arg("12m").scale, arg("12m").unscaled_value) == (0, 12)


def test_bad_numbers() -> None:
    assert "bad number 1.5L" in refused("g.inject(1.5L)")
    assert "bad number 300b" in refused("g.inject(300b)")


def test_datetime_is_timezone_aware() -> None:
    assert arg("datetime('2023-08-02T00:00:00Z')") == datetime(2023, 8, 2, tzinfo=UTC)
    assert arg("datetime('2023-08-02')") == datetime(2023, 8, 2, tzinfo=UTC)  # no offset: UTC
    offset = arg('datetime("2023-08-02T10:00:00+02:00")')
    assert offset.utcoffset() == timedelta(hours=2) and offset == datetime(2023, 8, 2, 8, tzinfo=UTC)
    assert "datetime() cannot read 'soon'" in refused("g.inject(datetime('soon'))")
    assert "datetime() takes one ISO 8601 string" in refused("g.inject(datetime(1))")


# -- enums and bindings -----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("Merge.onCreate", Merge.on_create), ("Merge.inV", Merge.in_v), ("Cardinality.list", Cardinality.list_),
    ("Cardinality.set", Cardinality.set_), ("DT.hour", DT.hour), ("Pick.any", Pick.any_), ("Pick.none", Pick.none),
    ("Operator.sum", Operator.sum_), ("Operator.addAll", Operator.add_all), ("Operator.sumLong", Operator.sum_long),
    ("Barrier.normSack", Barrier.norm_sack), ("Scope.global", Scope.global_), ("Pop.all", Pop.all_),
    ("Direction.from", Direction.from_), ("T.id", T.id), ("Order.desc", Order.desc), ("Column.values", Column.values),
    ("WithOptions.tokens", WithOptions.tokens), ("WithOptions.map", WithOptions.map),
    # bare, as Gremlin also reads them
    ("hour", DT.hour), ("first", Pop.first), ("last", Pop.last), ("assign", Operator.assign), ("set", Cardinality.set_),
    ("list", Cardinality.list_), ("onMatch", Merge.on_match), ("outV", Merge.out_v), ("global", Scope.global_),
    ("normSack", Barrier.norm_sack), ("value", T.value), ("values", Column.values), ("desc", Order.desc),
    ("id", T.id), ("any", Pick.any_),
])
def test_enums(text: str, expected: Any) -> None:
    found = arg(text)
    if not isinstance(expected, Enum):  # WithOptions holds plain values
        assert found == expected
    else:  # gremlinpython has both spellings of some (add_all, addAll): the wire carries the camelCase name
        assert type(found) is type(expected) and wire(found) == wire(expected)


def wire(value: Any) -> str:
    assert isinstance(value, Enum)
    return SymbolUtil.to_camel_case(value.name)


def test_cardinality_values() -> None:
    assert arg("Cardinality.set(31)") == CardinalityValue.set_(31)
    assert arg("Cardinality.single('x')") == CardinalityValue.single("x")
    assert "Cardinality.list() takes one value" in refused("g.inject(Cardinality.list(1, 2))")


def test_a_binding_wins_over_a_bare_enum_name() -> None:
    assert steps("g.V().has('k', value)", {"value": 3})[1] == ["has", "k", 3]
    assert arg("hour", {"hour": 7}) == 7
    assert arg("Pop.first", {"Pop": 1}) is Pop.first  # a qualified enum is never a binding


@pytest.mark.parametrize(("text", "message"), [
    ("g.V().has('x', who)", "unknown name 'who': pass values as bindings (name=value)"),
    ("g.inject(Merge.never)", "Merge has no value never"),
    ("g.inject(Order.mro)", "Order has no value mro"),
    ("g.inject(T.__class__)", "T has no value __class__"),
    ("g.inject(WithOptions.__dict__)", "WithOptions has no value __dict__"),
])
def test_unknown_names(text: str, message: str) -> None:
    assert message in refused(text)


# -- traversal sources ------------------------------------------------------------------------------

def test_source_options() -> None:
    built = parse("g.withSideEffect('a', [:]).withSack(1.0, Operator.sum).withBulk(false).withPath().V()", G, {})
    assert built.bytecode.source_instructions == [["withSideEffect", "a", {}], ["withSack", 1.0, Operator.sum_],
                                                  ["withBulk", False], ["withPath"]]
    assert built.bytecode.step_instructions == [["V"]]
    strategies = parse("g.withStrategies(ReadOnlyStrategy, ProductiveByStrategy).V()", G, {})
    (ins,) = strategies.bytecode.source_instructions
    assert ins[0] == "withStrategies" and [type(s).__name__ for s in ins[1:]] == [
        "ReadOnlyStrategy", "ProductiveByStrategy"]
    assert isinstance(ins[1], ReadOnlyStrategy)


@pytest.mark.parametrize(("text", "expected"), [
    ("g.mergeV([name: 'marko'])", [["mergeV", {"name": "marko"}]]),
    ("g.mergeE([(T.label): 'knows'])", [["mergeE", {T.label: "knows"}]]),
    ("g.call('--list')", [["call", "--list"]]),
    ("g.union(__.V().values('name'), __.E())", None),
])
def test_source_steps(text: str, expected: Any) -> None:
    got = steps(text)
    if expected is not None:
        assert got == expected
    else:
        assert got[0][0] == "union" and [a.step_instructions for a in got[0][1:]] == [
            [["V"], ["values", "name"]], [["E"]]]


def test_a_leading_union_parses() -> None:
    assert steps("g.union(__.V().out().out(), __.V()).path()")[0][0] == "union"


def test_other_source_calls_are_still_refused() -> None:
    assert "a query starts with g.V(), g.E(), g.addV(), g.addE() or g.inject(), not g.io()" in refused(
        "g.io('x.kryo').read()")
    # these would change rdg's own time limit or strategies
    assert "not g.with()" in refused("g.with('evaluationTimeout', 1000000).V()")
    assert "not g.withoutStrategies()" in refused("g.withoutStrategies(ReadOnlyStrategy).V()")
    assert "not g.withComputer()" in refused("g.withComputer().V()")


# -- steps and predicates -----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("g.V().properties().hasKey('age')", ["hasKey", "age"]),
    ("g.V().format('%{name} is %{age}')", ["format", "%{name} is %{age}"]),
    ("g.V().sack(assign)", ["sack", Operator.assign]),
    ("g.V().values('age').fold(0, Operator.sum)", ["fold", 0, Operator.sum_]),
    ("g.V().valueMap().with(WithOptions.tokens)", ["with", WithOptions.tokens]),
    ("g.V().option(Pick.none, __.identity())", None),
    ("g.inject(datetime('2023-08-02T00:00:00Z')).dateAdd(DT.hour, 2)", ["dateAdd", DT.hour, 2]),
])
def test_steps(text: str, expected: Any) -> None:
    got = steps(text)
    if expected is not None:
        assert got[-1] == expected
    else:
        assert got[-1][:2] == ["option", Pick.none]


def test_map_and_filter_steps() -> None:
    got = steps("g.V().map(__.out()).filter(out())")[1:]
    assert [(name, inner.step_instructions) for name, inner in got] == [("map", [["out"]]), ("filter", [["out"]])]


@pytest.mark.parametrize(("text", "expected"), [
    ("P.gt(18).and(P.lt(30))", P.gt(18).and_(P.lt(30))),
    ("P.gt(18).and(P.lt(30)).or(P.gt(35))", P.gt(18).and_(P.lt(30)).or_(P.gt(35))),
    ("TextP.containing('o').and(P.lt('m'))", TextP.containing("o").and_(P.lt("m"))),
    ("P.not(P.lte(10).and(P.not(P.between(11, 20))))", P.not_(P.lte(10).and_(P.not_(P.between(11, 20))))),
    ("gt(1).or(eq(0))", P.gt(1).or_(P.eq(0))),
])
def test_predicate_chains(text: str, expected: P) -> None:
    assert steps(f"g.V().has('age', {text})")[1][2] == expected


def test_predicate_chains_take_predicates() -> None:
    assert "and() on a predicate takes one predicate" in refused("g.V().has('a', P.gt(1).and(2))")
    assert steps("g.V().has('a', P.eq('x').or(P.lt(3)))")[1][2] == P.eq("x").or_(P.lt(3))


# -- what is never read ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "message"), [
    ("g.withStrategies(new SeedStrategy(seed: 1)).V()", "'new' is not read: rdg query creates no objects"),
    ("g.V().has('x', new Date())", "'new' is not read"),
    ("g.withStrategies(SeedStrategy).V()", "withStrategies() takes strategies by name"),
    ("g.withStrategies(ReadOnlyStrategy()).V()", "withStrategies() takes strategies by name"),
    ("g.withStrategies('x').V()", "expected name"),
    ("g.V().map { it.get() }", "unexpected character '{': lambdas and closures are not read"),
    ("g.V().filter({ x -> true })", "lambdas and closures are not read"),
    ("g.V().map(Lambda.function('it.get()'))", "unknown name 'Lambda'"),
    ("g.V().has('x', os.system)", "unknown name 'os'"),
    ("g.V().promise()", "unknown step promise()"),
    ("g.V().clone()", "unknown step clone()"),
    ("g.V().explain()", "unknown step explain()"),
    ("g.V().where(__.start())", "unknown step start()"),
    ("g.V().has('x', P.test(1))", "unknown predicate test()"),
    ("g.V().has('x', P.__init__(1))", "unknown predicate __init__()"),
    ("g.V().has('x', `a`)", "unexpected character '`'"),
])
def test_code_is_never_run(text: str, message: str) -> None:
    assert message in refused(text)


def test_nesting_is_bounded_in_maps_too() -> None:
    deep = "[a: " * (MAX_NESTING + 1) + "1" + "]" * (MAX_NESTING + 1)
    assert f"nested more than {MAX_NESTING} levels deep" in refused(f"g.inject({deep})")


def test_writes_inside_maps_and_lists_are_found() -> None:
    assert writes(parse("g.inject([k: [__.addV('x')]])", G, {})) == ["addV"]
    assert writes(parse("g.mergeV([name: 'x'])", G, {})) == ["mergeV"]
    with pytest.raises(QueryWritesError):
        parse_read_only("g.withSideEffect('a', __.drop()).V()", G, {})
    with pytest.raises(QueryWritesError):
        parse_read_only("g.mergeE([:]).option(Merge.onCreate, [:])", G, {})
