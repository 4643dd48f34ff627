"""ENG-53 / PRV-3 / PRV-10: error messages never carry credentials or home paths."""

from __future__ import annotations

from engine.sanitize import sanitize_message


def test_eng53_known_credential_values_are_masked() -> None:
    text = "auth failed for key abc123secretvalue and url http://sd.local:7860"
    out = sanitize_message(text, ["abc123secretvalue", "http://sd.local:7860"])
    assert out == "auth failed for key *** and url ***"


def test_eng53_longer_secret_masked_before_its_prefix() -> None:
    out = sanitize_message("k=SECRETSECRET2", ["SECRETSECRET", "SECRETSECRET2"])
    assert out == "k=***"


def test_eng53_empty_secrets_are_ignored() -> None:
    assert sanitize_message("nothing to hide", ["", "   "]) == "nothing to hide"


def test_eng53_key_shaped_tokens_are_masked_without_being_known() -> None:
    text = ("openai said sk-proj_ABCdef12345678 is wrong; anthropic sk-ant-api03-XYZxyz123456; "
            "header Bearer eyJhbGci.OiJIUzI1.NiJ9-x")
    out = sanitize_message(text, [])
    assert "sk-proj" not in out and "sk-ant" not in out and "eyJ" not in out
    assert out == "openai said *** is wrong; anthropic ***; header ***"


def test_eng53_short_sk_strings_are_kept() -> None:
    assert sanitize_message("task-sk-1234 done", []) == "task-sk-1234 done"


def test_eng53_home_prefixes_become_tilde() -> None:
    out = sanitize_message("open /home/alice/media/x.png and /Users/bob/y.txt failed", [])
    assert out == "open ~/media/x.png and ~/y.txt failed"


def test_prv3_log_filter_masks_credentials() -> None:
    import logging

    from engine.sanitize import SecretMaskFilter

    mask = SecretMaskFilter(["leo-key-value"])
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "calling with %s and %s",
                               ("leo-key-value", "sk-abcdefghijkl"), None)
    assert mask.filter(record) is True
    assert record.getMessage() == "calling with *** and ***"
    mask.add_secrets(["later-secret"])
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "x later-secret", None, None)
    mask.filter(record)
    assert record.getMessage() == "x ***"
