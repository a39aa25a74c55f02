"""The HTTP API and web page (app.py, static/) and its request queue (worker.py). Run as: cpp2py serve"""
from cpp2py.serve.app import create_app, run_serve
from cpp2py.schema import ServeConfig

__all__ = ["ServeConfig", "create_app", "run_serve"]
