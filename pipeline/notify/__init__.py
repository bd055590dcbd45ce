"""The email report: `mail` builds and sends it over SMTP, `render` writes its text and HTML bodies."""
