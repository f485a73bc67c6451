"""The web chat on the default corpus: `python app.py [--host 127.0.0.1] [--port 7860] [--index DIR] [--share]`.

Same as `qa serve`; see qa/web.py for the environment variables (basic auth, upload limit).
"""

import sys

from qa.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
