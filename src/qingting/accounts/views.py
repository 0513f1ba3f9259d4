from django.contrib.auth.views import LoginView
from django.shortcuts import render

from qingting.core.errors import RateLimited
from qingting.core.ratelimit import client_ip

from .services import check_login_rate


class ThrottledLoginView(LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        try:
            check_login_rate(client_ip(request), request.POST.get("username", ""))
        except RateLimited:
            return render(request, self.template_name, {"form": self.get_form(), "throttled": True}, status=429)
        return super().post(request, *args, **kwargs)
