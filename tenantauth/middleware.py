"""Response headers Django 5.2 does not set on its own."""


class SecurityHeadersMiddleware:
    # The admin and the hosted login page use only same-origin scripts and styles; nothing
    # may frame them.
    CSP = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.CSP)
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        return response
