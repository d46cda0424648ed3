"""The shopper's account: signing up, settings (country, language, currency, password, signing out
everywhere) and delivery addresses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Annotated, Any

from babel import Locale
from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from shopfest.accounts import service as accounts
from shopfest.accounts.model import (
    LANGUAGES,
    PASSWORD_MAX,
    PASSWORD_MIN,
    CommonPassword,
    EmailTaken,
    Profile,
    WrongPassword,
    check_password,
    normal_email,
)
from shopfest.core.actor import Actor, Role, require_role
from shopfest.core.errors import DomainError, InvalidInput, NotFound, Unauthenticated
from shopfest.core.ids import new_secret
from shopfest.deps import SESSION_COOKIE, RuntimeDep, actor_of
from shopfest.orders import service as orders
from shopfest.orders.model import DeliveryAddress
from shopfest.problems import status_of
from shopfest.rate_limits import client_address, email_key
from shopfest.runtime import Runtime
from shopfest.web import csrf
from shopfest.web.forms import FormErrors
from shopfest.web.i18n import Translator
from shopfest.web.layout import render
from shopfest.web.prices import VIEWER_CURRENCIES
from shopfest.web.routing import PageRoute, safe_next
from shopfest.web.viewer import follow_profile, viewer_of

router = APIRouter(include_in_schema=False, route_class=PageRoute)

Text = Annotated[str, Form(max_length=300)]
Secret = Annotated[str, Form(max_length=PASSWORD_MAX + 44)]  # longer than allowed, so the rule says so


@lru_cache(maxsize=4)
def countries(locale: str) -> tuple[tuple[str, str], ...]:
    """Every ISO 3166 country as (code, name in the viewer's language), by name."""
    names = Locale.parse(locale).territories
    return tuple(sorted(((code, name) for code, name in names.items() if len(code) == 2 and code.isalpha()),
                        key=lambda pair: pair[1]))


@dataclass(frozen=True)
class Choices:
    """What the profile's selects offer, as (value, text) in the viewer's language."""

    countries: tuple[tuple[str, str], ...]
    languages: tuple[tuple[str, str], ...]
    currencies: tuple[tuple[str, str], ...]


def _choices(request: Request) -> dict[str, Any]:
    viewer = viewer_of(request)
    return {"choices": Choices(countries(viewer.locale),
                               tuple((code, viewer.t(f"account.lang.{code}")) for code in LANGUAGES),
                               tuple((code, code) for code in VIEWER_CURRENCIES))}


def _signed_in(request: Request, runtime: Runtime) -> Actor:
    """The signed-in account (any role). Raises Unauthenticated."""
    actor = actor_of(request, runtime)
    if actor is None:
        raise Unauthenticated("sign in first")
    return actor


def _profile_or_errors(errors: FormErrors, t: Translator, *, country: str, language: str,
                       currency: str) -> Profile | None:
    """The profile a form asks for, or None with the reasons beside its fields."""
    if currency.strip().upper() not in VIEWER_CURRENCIES:
        errors.by_field["currency"] = t("account.bad_currency")
    if language not in LANGUAGES:
        errors.by_field["language"] = t("account.bad_language")
    try:
        profile = Profile(country.strip().upper(), language, currency.strip().upper())
    except InvalidInput:
        errors.by_field.setdefault("country", t("account.bad_country"))
        return None
    return None if errors else profile


# --- signing up ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SignUpForm:
    email: str = ""
    country: str = "CN"
    language: str = "en"
    currency: str = "CNY"


def _sign_up_page(request: Request, runtime: Runtime, form: SignUpForm, *, next_url: str,
                  errors: FormErrors | None = None, status: int = 200) -> HTMLResponse:
    return render(request, runtime, "account/signup.html", status=status, form=form,
                  errors=errors or FormErrors(), next_url=safe_next(next_url), password_min=PASSWORD_MIN,
                  **_choices(request))


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    viewer = viewer_of(request)
    return _sign_up_page(request, runtime, SignUpForm(language=viewer.lang, currency=viewer.currency),
                         next_url=request.query_params.get("next") or "/")


def _sign_up_errors(form: SignUpForm, password: str, t: Translator) -> tuple[FormErrors, Profile | None]:
    """What the form breaks of the account rules the service holds, each beside its field (the
    service checks again, and alone knows whether the email is taken or the password common)."""
    errors = FormErrors()
    checks: tuple[tuple[str, Callable[[], object], str], ...] = (
        ("email", lambda: normal_email(form.email), t("signup.bad_email")),
        ("password", lambda: check_password(password), t("signup.password_length", min=PASSWORD_MIN,
                                                         max=PASSWORD_MAX)))
    for field_name, check, message in checks:
        try:
            check()
        except InvalidInput:
            errors.by_field[field_name] = message
    profile = _profile_or_errors(errors, t, country=form.country, language=form.language,
                                 currency=form.currency)
    return errors, profile


@router.post("/signup", response_class=HTMLResponse)
async def signup(request: Request, runtime: RuntimeDep, email: Text = "", password: Secret = "",
                 country: Text = "CN", language: Text = "en", currency: Text = "CNY",
                 next_url: Annotated[str, Form(alias="next", max_length=2000)] = "/") -> Response:
    """Limited as the API's register route; the password is hashed in the hashing pool. Signed up,
    the shopper is signed in and goes back where they were."""
    runtime.limiter.hit("register", address=client_address(request))
    t, form = viewer_of(request).t, SignUpForm(email.strip(), country, language, currency)
    errors, profile = _sign_up_errors(form, password, t)
    if profile is None:
        return await run_in_threadpool(_sign_up_page, request, runtime, form, next_url=next_url,
                                       errors=errors, status=422)
    try:
        _, issued = await runtime.hashing.run(accounts.sign_up, runtime.uow(), email=email,
                                              password=password, profile=profile)
    except (EmailTaken, CommonPassword, InvalidInput) as refusal:
        errors.by_field[_sign_up_field(refusal)] = _sign_up_message(refusal, t)
        return await run_in_threadpool(_sign_up_page, request, runtime, form, next_url=next_url,
                                       errors=errors, status=status_of(refusal))
    response = RedirectResponse(safe_next(next_url), status_code=303)
    _start_session(request, runtime, response, issued)
    follow_profile(response, profile)
    return response


def _sign_up_field(refusal: DomainError) -> str:
    if isinstance(refusal, EmailTaken):
        return "email"
    return "password" if isinstance(refusal, CommonPassword) else ""


def _sign_up_message(refusal: DomainError, t: Translator) -> str:
    if isinstance(refusal, EmailTaken):
        return t("signup.email_taken")
    if isinstance(refusal, CommonPassword):
        return t("signup.common_password")
    return refusal.detail


def _start_session(request: Request, runtime: Runtime, response: Response,
                   issued: accounts.IssuedToken) -> None:
    """The session cookie, as signing in sets it, and a fresh form token (the old one dies here)."""
    # The lifetime is counted on the festival clock; the browser counts on its own, so give it a span.
    lifetime = int((issued.expires_at - runtime.clock.now()).total_seconds())
    response.set_cookie(SESSION_COOKIE, issued.secret, max_age=lifetime, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")
    csrf.keep_token(request, response, new_secret())


# --- settings --------------------------------------------------------------------------------

def _settings_page(request: Request, runtime: Runtime, actor: Actor, *, errors: FormErrors | None = None,
                   asked: dict[str, str] | None = None, status: int = 200) -> HTMLResponse:
    user = accounts.get_user(runtime.uow(read_only=True), actor.user_id)
    if user is None:
        raise Unauthenticated("the account is gone")
    profile = {f.name: getattr(user.profile, f.name) for f in fields(user.profile)} | (asked or {})
    saved = request.query_params.get("saved")
    return render(request, runtime, "account/settings.html", status=status, section="settings", user=user,
                  profile=profile, errors=errors or FormErrors(), password_min=PASSWORD_MIN,
                  saved=saved if saved in ("profile", "password") else None,
                  shopper=actor.role is Role.SHOPPER, **_choices(request))


@router.get("/account", response_class=HTMLResponse)
def settings(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    return _settings_page(request, runtime, _signed_in(request, runtime))


@router.post("/account/profile", response_class=HTMLResponse)
def change_profile(request: Request, runtime: RuntimeDep, country: Text = "", language: Text = "",
                   currency: Text = "") -> Response:
    """Saved on the account; the pages follow its language and currency from now on."""
    actor = _signed_in(request, runtime)
    errors = FormErrors()
    profile = _profile_or_errors(errors, viewer_of(request).t, country=country, language=language,
                                 currency=currency)
    if profile is None:
        asked = {"country": country, "language": language, "currency": currency}
        return _settings_page(request, runtime, actor, errors=errors, asked=asked, status=422)
    accounts.change_profile(runtime.uow(), actor, profile=profile)
    response = RedirectResponse("/account?saved=profile", status_code=303)
    follow_profile(response, profile)
    return response


@router.post("/account/password", response_class=HTMLResponse)
async def change_password(request: Request, runtime: RuntimeDep, current_password: Secret = "",
                          new_password: Secret = "", new_password_again: Secret = "") -> Response:
    """Limited and locked as signing in is, for the current password is guessed here too; every
    other session and API token of the account ends."""
    actor = await run_in_threadpool(_signed_in, request, runtime)
    t, errors = viewer_of(request).t, FormErrors()
    address = client_address(request)
    runtime.limiter.hit("login", account=email_key(str(actor.user_id)), address=address)
    if new_password != new_password_again:
        errors.by_field["new_password_again"] = t("account.password_mismatch")
    else:
        refusal = await _new_password(request, runtime, actor, current=current_password, new=new_password)
        if refusal is not None:
            errors.by_field.update([refusal])
    if errors:
        return await run_in_threadpool(_settings_page, request, runtime, actor, errors=errors, status=422)
    runtime.signed_in.forget_account(actor.user_id)  # bearer tokens this process remembers die too
    return RedirectResponse("/account?saved=password", status_code=303)


async def _new_password(request: Request, runtime: Runtime, actor: Actor, *, current: str,
                        new: str) -> tuple[str, str] | None:
    """Change the password, keeping this browser's session; refused, the field and the reason."""
    t = viewer_of(request).t
    try:
        await runtime.hashing.run(accounts.change_password, runtime.uow(), actor, current=current, new=new,
                                  keep_session=request.cookies.get(SESSION_COOKIE),
                                  lockout=runtime.limiter.lockout(client_address(request)))
    except WrongPassword:
        return "current_password", t("account.wrong_password")
    except CommonPassword:
        return "new_password", t("signup.common_password")
    except InvalidInput:
        return "new_password", t("signup.password_length", min=PASSWORD_MIN, max=PASSWORD_MAX)
    return None


@router.post("/account/sign-out-everywhere")
def sign_out_everywhere(request: Request, runtime: RuntimeDep) -> Response:
    """Every session and API token of the account ends, on every device, this browser's too."""
    actor = _signed_in(request, runtime)
    accounts.sign_out_everywhere(runtime.uow(), actor)
    runtime.signed_in.forget_account(actor.user_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


# --- delivery addresses ----------------------------------------------------------------------

ADDRESS_FIELDS = ("name", "phone", "country", "city", "line1", "line2", "postcode")


def _addresses_page(request: Request, runtime: Runtime, actor: Actor, *, form: dict[str, str] | None = None,
                    errors: FormErrors | None = None, status: int = 200) -> HTMLResponse:
    found = orders.delivery_addresses(runtime.uow(read_only=True), actor)
    saved = request.query_params.get("saved")
    return render(request, runtime, "account/addresses.html", status=status, section="settings",
                  addresses=found, form=form or {**dict.fromkeys(ADDRESS_FIELDS, ""), "country": "CN"},
                  errors=errors or FormErrors(), next_url=safe_next(request.query_params.get("next")),
                  saved=saved if saved in ("added", "changed", "deleted") else None, **_choices(request))


def _edit_page(request: Request, runtime: Runtime, *, address_id: int, form: dict[str, str],
               errors: FormErrors | None = None, status: int = 200) -> HTMLResponse:
    return render(request, runtime, "account/address_edit.html", status=status, section="settings",
                  address_id=address_id, form=form, errors=errors or FormErrors(), **_choices(request))


def _shopper(request: Request, runtime: Runtime) -> Actor:
    return require_role(actor_of(request, runtime), Role.SHOPPER)


def _address_id(text: str) -> int:
    # Taken as text so /account/addresses/abc is the same friendly 404 as another shopper's address.
    if not text.isdigit() or len(text) > 18:
        raise NotFound(f"no address {text}")
    return int(text)


@dataclass(frozen=True)
class AddressForm:
    name: str = ""
    phone: str = ""
    country: str = ""
    city: str = ""
    line1: str = ""
    line2: str = ""
    postcode: str = ""

    def asked(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in ADDRESS_FIELDS}

    def address(self, errors: FormErrors, t: Translator, *,
                address_id: int | None = None) -> DeliveryAddress | None:
        """The address typed, or None with the reason beside the field to fix."""
        try:
            return DeliveryAddress.typed(**self.asked(), id=address_id)
        except DomainError as refusal:
            field_name = str(refusal.data.get("field", ""))
            key = f"account.address.bad.{field_name}"
            errors.by_field[field_name] = t(key) if field_name and t.has(key) else refusal.detail
            return None


def _address_form(name: Text = "", phone: Text = "", country: Text = "", city: Text = "", line1: Text = "",
                  line2: Text = "", postcode: Text = "") -> AddressForm:
    return AddressForm(name, phone, country, city, line1, line2, postcode)


AddressFields = Annotated[AddressForm, Depends(_address_form)]


@router.get("/account/addresses", response_class=HTMLResponse)
def addresses(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    return _addresses_page(request, runtime, _shopper(request, runtime))


@router.post("/account/addresses", response_class=HTMLResponse)
def add_address(request: Request, runtime: RuntimeDep, form: AddressFields,
                next_url: Annotated[str, Form(alias="next", max_length=2000)] = "/") -> Response:
    """Added, the shopper goes back where they came from (the cart), or to the address book."""
    actor, errors = _shopper(request, runtime), FormErrors()
    address = form.address(errors, viewer_of(request).t)
    if address is None:
        return _addresses_page(request, runtime, actor, form=form.asked(), errors=errors, status=422)
    try:
        orders.add_delivery_address(runtime.uow(), actor, address)
    except orders.AddressBookFull as refusal:
        errors.by_field[""] = viewer_of(request).t("account.address.full")
        return _addresses_page(request, runtime, actor, form=form.asked(), errors=errors,
                               status=status_of(refusal))
    back = safe_next(next_url)
    return RedirectResponse(back if back != "/" else "/account/addresses?saved=added", status_code=303)


@router.get("/account/addresses/{address_id}", response_class=HTMLResponse)
def edit_address(request: Request, runtime: RuntimeDep, address_id: str) -> HTMLResponse:
    actor, wanted = _shopper(request, runtime), _address_id(address_id)
    found = orders.delivery_address(runtime.uow(read_only=True), actor, wanted)
    return _edit_page(request, runtime, address_id=wanted, form=found.snapshot())


@router.post("/account/addresses/{address_id}", response_class=HTMLResponse)
def change_address(request: Request, runtime: RuntimeDep, address_id: str, form: AddressFields) -> Response:
    actor, errors, wanted = _shopper(request, runtime), FormErrors(), _address_id(address_id)
    orders.delivery_address(runtime.uow(read_only=True), actor, wanted)  # another's: 404 before any check
    address = form.address(errors, viewer_of(request).t, address_id=wanted)
    if address is None:
        return _edit_page(request, runtime, address_id=wanted, form=form.asked(), errors=errors, status=422)
    orders.change_delivery_address(runtime.uow(), actor, address)
    return RedirectResponse("/account/addresses?saved=changed", status_code=303)


@router.post("/account/addresses/{address_id}/delete")
def delete_address(request: Request, runtime: RuntimeDep, address_id: str) -> Response:
    orders.remove_delivery_address(runtime.uow(), _shopper(request, runtime), _address_id(address_id))
    return RedirectResponse("/account/addresses?saved=deleted", status_code=303)


# --- choosing where shipped goods go, at checkout (the cart page in pages.py) ---------------------

@dataclass(frozen=True)
class DeliveryChoice:
    """The cart's choice of address: the shopper's addresses (none yet: they add one first)."""

    addresses: list[DeliveryAddress]


def delivery_choice(request: Request, runtime: Runtime, cart: dict[int, int]) -> DeliveryChoice | None:
    """What the cart's checkout form offers for delivery; None when no shopper is signed in or
    nothing in the cart ships."""
    actor = actor_of(request, runtime)
    if not cart or actor is None or actor.role is not Role.SHOPPER:
        return None
    try:
        if not orders.needs_delivery(runtime.uow(read_only=True), list(cart)):
            return None
    except DomainError:  # the cart page says what is wrong with the cart itself
        return None
    return DeliveryChoice(orders.delivery_addresses(runtime.uow(read_only=True), actor))


def checkout_delivery(runtime: Runtime, actor: Actor, cart: dict[int, int],
                      address_id: str) -> DeliveryAddress | None:
    """The address the checkout form chose, the shopper's own. Raises AddressNeeded (shipped goods
    and none chosen), NotFound (not theirs)."""
    wanted = _address_id(address_id) if address_id else None
    return orders.delivery_for_checkout(runtime.uow(read_only=True), actor, sku_ids=list(cart),
                                        address_id=wanted, required=True)
