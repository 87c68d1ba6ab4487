import pickle

import pytest

import shared.errors as errors

ALL = [cls for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.IntegrationError)]


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_errors_survive_pickling_with_their_attributes(cls):
    # Celery swaps an unpicklable exception for a base class, and the failure store would report the wrong type.
    kwargs = {"code": 512}
    if issubclass(cls, errors.TransientError):
        kwargs["retry_after"] = 3.0
    if issubclass(cls, errors.UpstreamRejected):
        kwargs["status"] = 404
    original = cls("message", **kwargs)

    copy = pickle.loads(pickle.dumps(original))

    assert type(copy) is cls and copy.reason == cls.reason
    assert vars(copy) == vars(original) and str(copy) == "message"
