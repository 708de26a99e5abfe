# Runs moto's server with requests handled one at a time. moto's threaded
# server can interleave two conditional writes (DynamoDB transactions
# included) and let both succeed, which real DynamoDB never does; serialising
# requests restores the atomicity the service relies on.
import argparse
import os
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

parser = argparse.ArgumentParser()
parser.add_argument("-H", "--host", default="127.0.0.1")
parser.add_argument("-p", "--port", type=int, default=5000)
args = parser.parse_args()
os.environ.setdefault("MOTO_PORT", str(args.port))

app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()


def serialised(environ, start_response):
    with lock:
        return list(app(environ, start_response))


run_simple(args.host, args.port, serialised, threaded=True, request_handler=MotoRequestHandler)
