"""The field types of request bodies: text is valid Unicode (a lone surrogate such as JSON's
``"\\ud800"`` is refused with a 422 naming the field, before it can reach hashing, Arrow or a
join store), values are text, numbers, bools or null, labels numbers, bools or class names,
and an event has at most 1,000 features.

>>> from pydantic import TypeAdapter, ValidationError
>>> TypeAdapter(Text).validate_python("café")
'café'
>>> try:
...     TypeAdapter(Text).validate_python("\\ud800")
... except ValidationError as exc:
...     print(exc.errors()[0]["msg"])
Value error, not valid Unicode (a lone surrogate)
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from streamlearn.base.classes import MAX_LABEL_CHARS
from streamlearn.streams.decode import MAX_FEATURES, check_text

Text = Annotated[StrictStr, AfterValidator(check_text)]
Value = Text | StrictBool | StrictInt | StrictFloat | None
Id = Text | StrictInt
# A number, a bool, or (for a multiclass model) the name of a class.
Label = StrictInt | StrictFloat | StrictBool | Annotated[Text, Field(max_length=MAX_LABEL_CHARS)]
Features = Annotated[dict[Text, Value], Field(max_length=MAX_FEATURES)]
