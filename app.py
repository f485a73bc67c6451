"""The web chat and JSON API on the default corpus:
`python app.py [--host 127.0.0.1] [--port 7860] [--index DIR] [--share] [--read-only]`.

Same as `qa serve`: the chat at /, `POST /api/ask` beside it (qa/api.py); see qa/web.py for
the environment variables (login, upload limit). A busy port is one line and exit 1.
"""

import sys

from qa.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
