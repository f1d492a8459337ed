import pytest


@pytest.fixture
def cross_site_cookies(settings):
    settings.CSRF_COOKIE_SAMESITE = "None"
    settings.CSRF_COOKIE_SECURE = True
    settings.CSRF_COOKIE_PARTITIONED = True


@pytest.mark.usefixtures("cross_site_cookies")
def test_csrf_cookie_is_partitioned_for_cross_site_iframes(client):
    response = client.get("/intake/contact/embed/")

    cookie = response.cookies["csrftoken"].output()
    assert cookie.endswith("; Partitioned")
    assert "SameSite=None" in cookie
    assert "Secure" in cookie


@pytest.mark.django_db
def test_session_cookie_is_partitioned_only_when_asked(client, settings, contact_data):
    settings.SESSION_COOKIE_SAMESITE = "None"
    settings.SESSION_COOKIE_SECURE = True
    settings.SESSION_COOKIE_PARTITIONED = True

    response = client.post("/intake/contact/", contact_data)

    assert response.cookies["sessionid"].output().endswith("; Partitioned")


def test_cookies_are_not_partitioned_by_default(client):
    response = client.get("/intake/contact/")

    assert "Partitioned" not in response.cookies["csrftoken"].output()
