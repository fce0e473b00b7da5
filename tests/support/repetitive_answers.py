"""Answers that repeat on purpose, which the loop guard must let through whole, and answers that
loop, which it must stop. The fast tier streams them through the app
(tests/unit/chat/test_loop_guard.py, tests/unit/app/test_handlers.py);
bench/bench_loop_guard.py replays the legitimate ones through the guard next to the real
model's answers.

The looping ones are taken from what the bundled model streamed (bench/bench_loop_guard.py, seeds
1-3): a loop is the text before it, then the same span again and again.
"""

from __future__ import annotations

import re

MONTH_DAYS = {
    "January": 31, "February": 28, "March": 31, "April": 30, "May": 31, "June": 30,
    "July": 31, "August": 31, "September": 30, "October": 31, "November": 30, "December": 31,
}  # fmt: skip

LEGITIMATE = {
    "numbered list": """Here are ten ways to save energy at home:

1. Switch off lights when you leave a room.
2. Unplug chargers that are not in use.
3. Wash clothes in cold water.
4. Dry laundry on a line instead of in the dryer.
5. Use a programmable thermostat.
6. Seal drafts around windows and doors.
7. Replace old bulbs with LED bulbs.
8. Run the dishwasher only when it is full.
9. Keep the fridge door closed as much as you can.
10. Take shorter showers.""",
    "numbered list with a template": """Your week of workouts:

1. **Monday**: 30 minutes of running.
2. **Tuesday**: 30 minutes of cycling.
3. **Wednesday**: 30 minutes of swimming.
4. **Thursday**: 30 minutes of rowing.
5. **Friday**: 30 minutes of yoga.
6. **Saturday**: 30 minutes of walking.
7. **Sunday**: 30 minutes of stretching.""",
    "steps": """Step 1: Preheat the oven to 180 °C.
Step 2: Mix the flour, the sugar and the butter in a bowl.
Step 3: Add the eggs one at a time and stir after each.
Step 4: Pour the batter into a greased tin.
Step 5: Bake for 35 minutes, until a knife comes out clean.
Step 6: Let the cake cool for 10 minutes before you serve it.""",
    "code with repeated lines": """```python
class Person:
    def __init__(self, name, age, email, phone, city):
        self.name = name
        self.age = age
        self.email = email
        self.phone = phone
        self.city = city


def report(people):
    print("-" * 40)
    print("Report")
    print("-" * 40)
    for person in people:
        print(person.name)
        print(person.city)
    print("-" * 40)
    print("-" * 40)
```""",
    "code with an array filled line by line": """```c
int squares[8];
squares[0] = 0;
squares[1] = 1;
squares[2] = 4;
squares[3] = 9;
squares[4] = 16;
squares[5] = 25;
squares[6] = 36;
squares[7] = 49;
```""",
    "code with closing braces": """```javascript
function walk(tree) {
  if (tree) {
    for (const child of tree.children) {
      if (child.visible) {
        if (child.enabled) {
          render(child);
        }
      }
    }
  }
}
```""",
    "tests with repeated asserts": """```python
def test_add():
    assert add(1, 2) == 3
    assert add(2, 2) == 4
    assert add(0, 0) == 0
    assert add(-1, 1) == 0
    assert add(10, 5) == 15
    assert add(100, 1) == 101
```""",
    "a switch": """```c
switch (day) {
    case 1: printf("Monday\\n"); break;
    case 2: printf("Tuesday\\n"); break;
    case 3: printf("Wednesday\\n"); break;
    case 4: printf("Thursday\\n"); break;
    case 5: printf("Friday\\n"); break;
    case 6: printf("Saturday\\n"); break;
    case 7: printf("Sunday\\n"); break;
}
```""",
    "the months": "\n".join(
        f"{n}. {month} has {days} days."
        for n, (month, days) in enumerate(MONTH_DAYS.items(), start=1)
    ),
    "a markdown table": """| Planet | Moons | Rings |
|---|---|---|
| Mercury | 0 | no |
| Venus | 0 | no |
| Earth | 1 | no |
| Mars | 2 | no |
| Jupiter | 95 | yes |
| Saturn | 146 | yes |
| Uranus | 28 | yes |
| Neptune | 16 | yes |""",
    "a poem with a refrain": """The river bends beneath the hill,
the willows bow, the air is still,
and the river runs on.

The children play along the shore,
they laugh and shout and ask for more,
and the river runs on.

The winter comes with ice and snow,
the fields are white, the fires glow,
and the river runs on.

The years go by, the town grows old,
new stories wait still to be told,
and the river runs on.""",
    "a song with a chorus": """Verse 1:
I left my home at break of day,
with nothing but a song to play.

Chorus:
Sing it loud, sing it clear,
let the whole wide valley hear,
sing it loud, sing it strong,
carry me the whole night long.

Verse 2:
The road was long, the sky was grey,
but still I sang along the way.

Chorus:
Sing it loud, sing it clear,
let the whole wide valley hear,
sing it loud, sing it strong,
carry me the whole night long.

Verse 3:
And when at last I saw the sea,
the song came home along with me.

Chorus:
Sing it loud, sing it clear,
let the whole wide valley hear,
sing it loud, sing it strong,
carry me the whole night long.""",
    "happy birthday": """Happy birthday to you,
happy birthday to you,
happy birthday, dear Ada,
happy birthday to you!""",
    "row your boat": """Row, row, row your boat,
gently down the stream.
Merrily, merrily, merrily, merrily,
life is but a dream.""",
    "a song whose chorus comes back twice at the end": """Verse 1:
The harbour lights are burning low,
the boats are resting in a row.

Chorus:
Hold on, hold on, the tide will turn,
the sea gives back what sailors earn,
hold on, hold on, we're coming home,
across the wind, across the foam.

Verse 2:
The nets are mended, ropes are tied,
our children waiting by the side.

Chorus:
Hold on, hold on, the tide will turn,
the sea gives back what sailors earn,
hold on, hold on, we're coming home,
across the wind, across the foam.

Hold on, hold on, the tide will turn,
the sea gives back what sailors earn,
hold on, hold on, we're coming home,
across the wind, across the foam.""",
    "a Korean song with a chorus": """1절:
아침 해가 떠오르면
우리는 함께 길을 나서요.

후렴:
노래하자, 노래하자,
바람 따라 노래하자.

2절:
저녁 별이 빛나면
우리는 함께 집으로 와요.

후렴:
노래하자, 노래하자,
바람 따라 노래하자.

3절:
겨울이 지나고 봄이 오면
우리는 다시 꽃을 심어요.

후렴:
노래하자, 노래하자,
바람 따라 노래하자.""",
    "a Markdown table with repeated cells": """| Feature | Free | Basic | Pro | Team | Enterprise |
|---|---|---|---|---|---|
| Chat | yes | yes | yes | yes | yes |
| File upload | no | yes | yes | yes | yes |
| History | no | no | yes | yes | yes |
| Shared chats | no | no | no | yes | yes |
| Single sign-on | no | no | no | no | yes |
| Audit log | no | no | no | no | yes |
| Custom models | no | no | yes | yes | yes |
| Priority support | no | no | no | yes | yes |
| Offline mode | yes | yes | yes | yes | yes |""",
    "a YAML listing": """```yaml
services:
  web:
    image: nginx:1.27
    restart: always
    depends_on:
      - app
  app:
    image: chat-app:latest
    restart: always
    depends_on:
      - db
  db:
    image: postgres:16
    restart: always
  cache:
    image: redis:7
    restart: always
```""",
    "a JSON listing": """```json
{
  "users": [
    {"name": "Ann", "role": "admin", "active": true, "team": "core"},
    {"name": "Bob", "role": "user", "active": true, "team": "core"},
    {"name": "Cid", "role": "user", "active": true, "team": "core"},
    {"name": "Dee", "role": "user", "active": true, "team": "core"},
    {"name": "Eve", "role": "user", "active": false, "team": "core"},
    {"name": "Fay", "role": "user", "active": true, "team": "core"},
    {"name": "Gus", "role": "user", "active": true, "team": "core"},
    {"name": "Hal", "role": "admin", "active": true, "team": "core"}
  ]
}
```""",
    "a listing as JSON with no code fence": """Here are the users:

{"name": "Ann", "active": true, "admin": false},
{"name": "Bob", "active": true, "admin": false},
{"name": "Cid", "active": true, "admin": false},
{"name": "Dee", "active": true, "admin": false},
{"name": "Eve", "active": true, "admin": false},
{"name": "Fay", "active": true, "admin": false},
{"name": "Gus", "active": true, "admin": false},
{"name": "Hal", "active": true, "admin": true}""",
    "a CSV listing": """name,city,plan,active
Ann,Oslo,pro,yes
Bob,Oslo,pro,yes
Cid,Oslo,pro,yes
Dee,Oslo,pro,yes
Eve,Oslo,free,no
Fay,Oslo,pro,yes
Gus,Oslo,pro,yes
Hal,Oslo,pro,yes""",
    "code that turns left three times": """To turn right, Karel turns left three times:

```python
def turn_right():
    turn_left()
    turn_left()
    turn_left()
```""",
    "a heading underlined and a rule": """Results of the survey
=====================

Most people sleep seven hours a night.

----------------------------------------

Fewer than one in ten sleep less than five hours.""",
    "a call and response": """Who will sail the boat tonight?
Not I, said the gull.
Who will mend the nets tonight?
Not I, said the gull.
Who will light the lamps tonight?
Not I, said the gull.
Then I will do it all myself,
and so I did.""",
    "a poem with a knock at the door": """Late at night the wind came by
and rattled at the door:
knock,
knock,
knock,
and then it knocked no more.""",
    "a times table": "\n".join(f"7 × {n} = {7 * n}" for n in range(1, 13)),
    "a times table in ASCII": "\n".join(f"{n} x 7 = {7 * n}" for n in range(1, 21)),
    "a training plan": "\n".join(
        f"Week {n}: run {5 * n} minutes, then walk {10 + n} minutes." for n in range(1, 13)
    ),
    "a weekly plan": "\n\n".join(
        f"Week {week}:\n"
        f"Monday: run {15 + 5 * week} minutes\n"
        "Tuesday: rest\n"
        f"Wednesday: swim {10 + 5 * week} minutes\n"
        "Thursday: rest\n"
        f"Friday: run {15 + 5 * week} minutes\n"
        f"Saturday: cycle {25 + 5 * week} minutes\n"
        "Sunday: rest"
        for week in range(1, 5)
    ),
    "counting": "Here you go: " + ", ".join(str(n) for n in range(1, 31)) + ".",
    "a Korean numbered list": """사과의 좋은 점 다섯 가지:

1. 식이섬유가 많아 소화를 돕습니다.
2. 비타민 C가 들어 있어 면역력에 좋습니다.
3. 칼로리가 낮아 간식으로 알맞습니다.
4. 수분이 많아 갈증을 풀어 줍니다.
5. 껍질에 항산화 물질이 많습니다.""",
    "a Korean poem with a refrain": """바람이 불어 나뭇잎이 지고,
들판 위로 해가 저물면,
강물은 흘러갑니다.

아이들이 웃으며 집으로 가고,
창문마다 불이 켜지면,
강물은 흘러갑니다.

겨울이 와서 눈이 쌓이고,
온 마을이 고요해지면,
강물은 흘러갑니다.""",
}

# What the bundled model streamed when it looped (seeds 1-3 of the benchmark's prompts), from
# the start of the answer to a few repeats into the loop. `looping(...)` repeats the span.
LOOPS = {
    "a phrase": (
        "In the gentle embrace of autumn, the leaves fall to the ground, ",
        "a wanderer lost in the twilight, ",
    ),
    "a numbered line with a counter": ("", "{n}. 3 Tips to Get Better Sleep:\n\n"),
    "a bullet": ("The following list contains some common data types:\n\n1. \n", "*  \n"),
    "a line of a poem": (
        "The river of time, its gentle flow,\n",
        "A solitary listener, listening to the river's song,\n",
    ),
    "Korean-looking syllables": ("귰사: 2018年3/4, 정담, 이믌  2019-2020", ", 어둘"),
    "a counter in brackets": ("백우로 손어 약", "[{n}]-[{m}]: … 백우로 손어 약"),
    "a number": ("It corresponds to the range [", "123, "),
    "an item counted up": ("The Solar System: ", "{n}. Uranus, "),
    "a line with two counters": (
        "",
        "{n}. What makes us feel uneasy about things happening outside our own homes ({m})\n\n",
    ),
    # Issue 22: a short line of a poem, which the span rule alone let come back four times.
    "a short line of a poem": (
        "The sea is deep, the sea is wide,\nits secrets kept from every tide,\n",
        "balances untold balances,\n",
    ),
    "two lines of a poem taking turns": (
        "In twilight skies,\nIn darkest nights,\n",
        "In deepest deepensions,\nIn deepest depths,\n",
    ),
}

# The bundled model asked to "List the days of the week." (seed 1): after Sunday it lists the
# week again and again, numbers counting up, 292 tokens of it before issue 22.
A_WEEK_LISTED_AGAIN = """1. Monday - 1, 2, 3, ... 7, 8, ...

2. Tuesday - 4, 5, 6, 7, ...

3. Wednesday - 9, 10, 11, ...

4. Thursday - 12, 13, ...

5. Friday - 16, 17, ...

6. Saturday - 18, 19, ...

7. Sunday - 20, 21, ...

8. Monday - 22, 23, ...

8. Tuesday - 23, 24, ...

8. Wednesday - 24, 25, ...

8. Thursday - 25, 26, ...

8. Friday - 26, 27, ...

8. Saturday - 27, 28, ...

8. Sunday - 28, 29, ...

9. Monday - 28, 29, ...

10. Tuesday - 29, 30, ...

11. Wednesday - 31, ...

12. Thursday - 32, ...
"""

_SEA = "The sea is deep, the sea is wide,\nits secrets kept from every tide,\n"
_RECORD = '{{"name": "{}", "active": true, "admin": false}},\n'
_NAMES = ["Ann", "Bob", "Cid", "Dee", "Eve", "Fay", "Gus", "Hal", "Ida", "Jon"]
_COLUMNS = "abcdefghij"

# Answers on the edges of issue 22's rules (a line that comes back, new words, a line drawn with
# one mark), some cut and some not: tests/unit/chat/test_loop_guard.py says which and where;
# tests/unit/ui/test_browser_loop_guard.py holds the /browser page's guard to the same verdicts.
EDGE_CASES = {
    "a short line three times": _SEA + "balances untold balances,\n" * 20,
    "a sailor's short line": (
        "My tale of sailin' the seas,\nA brave adventurer,\nAn explorer,\n"
        + "A sailor's mate,\n" * 20
    ),
    "a Korean short line": "바다는 깊고 넓어서\n" + "파도야,\n" * 20,
    "a line with an old line between its copies": (
        "In twilight skies,\nIn darkest nights,\nIn deepest deepensions,\nIn deepest depths,\n"
        + "In deepest deepensions,\n" * 20
    ),
    "a refrain after new lines": "".join(
        f"The {thing} is far,\nand the river runs on.\n" for thing in "abcdefgh"
    ),
    "a line of one word": (
        "The wind came by:\nknock, knock,\nknock, knock,\nknock, knock,\nand then no more.\n"
    ),
    "lines repeated in code": (
        "```python\n" + "print('Hello, World!')\n" * 2 + "move_robot(left)\n" * 3 + "```\n"
    ),
    "lines repeated in prose": "Then:\n" + "move the robot left\n" * 3,
    "records that each bring a new name": "".join(_RECORD.format(name) for name in _NAMES),
    "the same record again": "".join(_RECORD.format("Ann") for _ in _NAMES),
    "a table and an underlined heading": (
        f"| {' | '.join(_COLUMNS)} |\n|{'---|' * len(_COLUMNS)}\n"
        f"| {' | '.join(str(n) for n in range(10))} |\n"
        "Results of the survey\n" + "=" * 21 + "\n\nMost people sleep well.\n"
    ),
    "a rule that goes on": "Results\n" + "=" * 300,
    "a week listed again": A_WEEK_LISTED_AGAIN,
}


def looping(name: str, repeats: int = 40) -> str:
    """A looping answer: its beginning, then its span `repeats` times (counters counting up)."""
    start, span = LOOPS[name]
    return start + "".join(span.format(n=i + 1, m=i + 2) for i in range(repeats))


def as_model_tokens(text: str) -> list[str]:
    """The text cut into deltas about the size of a model's tokens: a word with the space or
    punctuation before it, or one character of a script without spaces."""
    return re.findall(r"\s*[\w'-]+|\s*[^\w\s]|\s+", text)
