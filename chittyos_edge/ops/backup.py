"""placeholder"""


def register(commands) -> None:
    return None
