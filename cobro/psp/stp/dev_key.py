"""The development key pair that cobro signs STP requests with in simulator mode.

Not a secret: like the other SIMULATOR_* values it only ever authenticates traffic between two
local processes. The simulator knows only the public half (as STP knows only the certificate a
company registered with it); live mode requires the company's own key (STP_PRIVATE_KEY or
STP_PRIVATE_KEY_PATH, with STP_KEY_PASSPHRASE). The private half is encrypted with a passphrase,
as STP's keys are, so the same code path loads both.
"""

SIMULATOR_STP_KEY_PASSPHRASE = "cobro-simulator-stp"  # noqa: S105 (dev only)

SIMULATOR_STP_PRIVATE_KEY = """\
-----BEGIN ENCRYPTED PRIVATE KEY-----
MIIFNTBfBgkqhkiG9w0BBQ0wUjAxBgkqhkiG9w0BBQwwJAQQidxR0EK44b+TbLFs
7XvFygICCAAwDAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEKUrVTHJZh6IfeE1
LZZDWbIEggTQVIiknK94gluEiB1RX0islIWlEzTzc24WFX5y1nGRfdEjnKNRL4lY
xfFtTkEzjL6wEh4oaN9uelS+U9Btq3hhU6bDpgig+oXtXZENKF0UFDux2MbaNwS0
EqhMhBILnrUMZguw9c+Uu0llI2TwUwOBUGVflDl1FhlVdc7K41NZ9QqJruAJc/d+
ivLhXzjJAyRz5ep3KUopxrnNqkKqATum4mSILQE4z22uJA7sYWxXCSwlXf54syhD
/W7NT9cR8XUiIW1w41fUN3MYtuk1vCNnqntZBYMYGaTKcfLtpchS0t05UIP21IH7
k8tn+jAwUOGXuKQt41e3Q8q5Gx5G6C6O/6jPdp20kYc/1Mw8+k9G6eqQ9AaQkljJ
mUkY6HPAzFWEGAfYejU8ySv0nedZTFENxl0rOiTN8kE4sNsU6WQfWuXk3HVLUPRJ
GDfnDi1pporKNbk2nzeo1gLTYHe6GuD8V5Z08wNC2+ZjROUSu00dAVRf5UGQMgan
5XJwNf+uHjfdc2+C4rYs5c8RdyfJ9LGIwOmkTNL1PhNs5hPjHaKl7thyMGssHUUV
BF3A++VD30bePd/1ss8f9j9gah0gxMvXeE5Et+2Hd+/w/kUny92WR3u8e873H4ag
XxGa/I8LB9BXPTkVLFM7ybZqP+3/WsmqQiwMD9tgVPEdOhkJeAJolMdDz4hvtibW
jyb1BfEfS13mwMVhdjM/gYv4uEaHcfWP6jJkh36dvrak4slL5bjZJjKGri1bdZcH
ePpwqQKw2n4h5i8jaiJrGScgVSvDEgsTRgsg2PFF/+8PhcusOqIaEP42OSlQIJPc
c149dIFK5BvV2IpJiWpOTXBi/I4/ByAMA/Hrb+gVdhJtFmwJO9Nb7+JlxQwmR5zf
ZoX+YJuoeX0bFdNE1u9JcaZJY2yaRJ3mpOCjALdWVOXj0GEjmOwUEdbg9CbIUEbI
XQa6bC+B5GcsqrlN4lIB3nx18ACnlqA/h1Lqj/CBrdHY595NZW2pR57lsjkZPHpQ
qDJyo/mhtJQ2HYaSMIvTpu+gK9kHv9XjLr8/EZemy39cV29DDUkuo6fspUI9EQlH
sBdWgtRJKtLq26Dv5djZA2KBkXFFPUJhH0d1RZb29hHeg7H+v/ctTExaV8qOa5R5
hsdUsmEoUPdwjwUl2cAddMLj8bDgdCLWmvf5KGZFmIUzrwxlqLZh5+CgNpf6Dzv6
agGn+xHDee67eFvaJX2SUoGSh/qmJf+iRbtn8irbo0y6/16yBmBAhSWA+5ZMtP+e
NAWQF7Wfv607dnKOfTZ5gQBgzu78XtySxYpb3ypKmNrAiNCJ51eUtc4o2WAat6mi
o5VjS/Dv7w3++MClJsE5RQMW/6gpeMjrAmn8K7s8lxK58Cd/L5/S5UP/EZuwKB0j
TSy0vjhKAU7LqtbvXqjP6c3WUgtDQDve7p4sK4/P1GhBsRvgBMb+YOx3creoNDuu
hwACPsaPNGjfUqVJNmQIt4w0fm119vYfACI8bGU38DJMYojh+7b1f/IvNQHKxwSp
CF6h7qmCFIOVG3f+iIXFw9Np+O6O2t662FCOCkBuM/0nLxWWAMJWYTGFelgJMH4T
FqJxuHI7VYusXMHH2wEQCSXgkYt3c0K3URE+ZVTke4o6ca771ocfDXQ=
-----END ENCRYPTED PRIVATE KEY-----
"""

SIMULATOR_STP_PUBLIC_KEY = """\
-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAuVN1UQY6juXkI36o6Hv1
RxVkS5g3/j+C2S39J/c+edrNKT8aqgUtTIFmyep8Q6ThDsEkXKFj34zgQEzqNzHM
3oHz/tIliK7LnG4kLRKj3xk3VrbUAqBA/cgPlSuOWX4TvQF/CYcHpGLuKxQTqABU
i1jVMieQkZ7fnXz/dE4O+MF1mWf6UV7aAwrJUDmEW4kJ0Gfk8wj4Yj2ftPpZSgJ9
ycUAHpR8uZxCkcqrAxoZz7yWGE95gMKYejuJBlIYQKHg4tcTNEW0lt0arO0vim2W
SRdJ4Jd6LNAptcca4gV1imSVpZdUT8rPKNE0VphpRoJRjuRNgdP7bC+aVFS0r5+a
QwIDAQAB
-----END PUBLIC KEY-----
"""
