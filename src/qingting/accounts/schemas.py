from ninja import Schema


class TokenIn(Schema):
    username: str
    password: str
    name: str = "api"


class TokenOut(Schema):
    token: str


class DepartmentOut(Schema):
    code: str
    name: str
    kind: str
    parent: str | None = None
    region: str = ""


class MeOut(Schema):
    username: str
    display_name: str
    role: str
    role_name: str
    department: str | None = None
