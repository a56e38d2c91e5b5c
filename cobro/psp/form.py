"""Stripe-style `application/x-www-form-urlencoded` bodies with bracketed nested keys."""

from typing import Any


def flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """{"a": {"b": 1}, "c": ["x"]} -> [("a[b]", "1"), ("c[]", "x")] as Stripe expects."""
    pairs: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}[{key}]" if prefix else key
        if value is None:
            continue
        if isinstance(value, dict):
            pairs += flatten(value, name)
        elif isinstance(value, list):
            pairs += [(f"{name}[]", str(v)) for v in value]
        elif isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        else:
            pairs.append((name, str(value)))
    return pairs


def unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """The inverse of `flatten`, used by the simulator to read Stripe-style bodies."""
    result: dict[str, Any] = {}
    for name, value in pairs:
        head, _, rest = name.partition("[")
        keys = [head] + [k.rstrip("]") for k in rest.split("[")] if rest else [head]
        node = result
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        last = keys[-1]
        if last == "" and len(keys) > 1:  # "a[]" appends to list "a"
            parent = result
            for key in keys[:-2]:
                parent = parent[key]
            existing = parent.get(keys[-2])
            parent[keys[-2]] = [*existing, value] if isinstance(existing, list) else [value]
        else:
            node[last] = value
    return {key: _indexed_to_list(value) for key, value in result.items()}


def _indexed_to_list(node: Any) -> Any:
    """`a[0]=x&a[1]=y` (how stripe-python sends lists) reads as ["x", "y"], like `a[]=x&a[]=y`."""
    if not isinstance(node, dict):
        return node
    items = {key: _indexed_to_list(value) for key, value in node.items()}
    indexes = [str(i) for i in range(len(items))]
    if items and set(items) == set(indexes):
        return [items[i] for i in indexes]
    return items
