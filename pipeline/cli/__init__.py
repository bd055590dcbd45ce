"""The command line, on top of everything: `app.main` turns argv, environment and streams into
Settings and an exit code (the one error boundary); `status` and `serve_sandbox` are the other
commands.
"""
