"""What the forms share: their problems (all shown at once, each at its field), the VHS
choice (in German order, with aliases, preselected) and the address check."""

from __future__ import annotations

from flask import Response, current_app, request
from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import SelectField, SubmitField
from wtforms.fields.choices import Choice
from wtforms.widgets import Select, html_params

from ... import addresses, tenants
from ...addresses import Problem
from ...passwords import MAX_LENGTH

LAST_VHS_COOKIE = "idp_vhs"
NO_VHS = lazy_gettext("Bitte wählen Sie Ihre VHS aus.")
UNKNOWN_VHS = lazy_gettext("Diese VHS gibt es in der Liste nicht. Bitte wählen Sie Ihre VHS "
                           "aus der Liste.")
NO_PASSWORD = lazy_gettext("Bitte geben Sie Ihr Passwort ein.")
PASSWORD_TOO_LONG = lazy_gettext("Das Passwort darf höchstens %(maximum)s Zeichen haben.",
                                 maximum=MAX_LENGTH)
ADDRESS_MESSAGES = {
    Problem.MISSING: lazy_gettext("Bitte geben Sie Ihre E-Mail-Adresse ein."),
    Problem.TOO_LONG: lazy_gettext("Die E-Mail-Adresse ist zu lang: höchstens %(maximum)s "
                                   "Zeichen.", maximum=addresses.MAX_LENGTH),
    Problem.NO_AT: lazy_gettext("Eine E-Mail-Adresse hat genau ein @-Zeichen, zum Beispiel "
                                "name@vhs-musterstadt.de."),
    Problem.NOTHING_BEFORE: lazy_gettext("Vor dem @-Zeichen fehlt der Name."),
    Problem.NOTHING_AFTER: lazy_gettext("Nach dem @-Zeichen fehlt die Domain, zum Beispiel "
                                        "vhs-musterstadt.de."),
    Problem.SPACE: lazy_gettext("Die E-Mail-Adresse enthält ein Leerzeichen."),
    Problem.NO_DOMAIN: lazy_gettext("Nach dem @-Zeichen muss eine Domain mit Punkt stehen, "
                                    "zum Beispiel vhs-musterstadt.de."),
    Problem.INVALID: lazy_gettext("Diese E-Mail-Adresse ist so nicht gültig. Bitte prüfen Sie "
                                  "sie Zeichen für Zeichen."),
}


class ActionForm(FlaskForm):
    """A button with a CSRF token (the account page's, the console's)."""


class LogoutForm(FlaskForm):
    """Confirm a logout that no valid id_token_hint vouches for (and the start page's
    "Abmelden")."""

    submit = SubmitField("Abmelden")


class Problems:
    """The problems of a submitted form, in the order of its fields; None: the whole form."""

    def __init__(self):
        self.items: list[tuple[str | None, str]] = []

    def add(self, field: str | None, message) -> Problems:
        """Note one problem (its field's id and what to say)."""
        self.items.append((field, message))
        return self

    def of(self, field: str):
        """The problem of ``field``, if any."""
        return next((message for name, message in self.items if name == field), None)

    def attrs(self, field: str, extra: dict | None = None) -> dict[str, str]:
        """The attributes of ``field``: ``extra``, and when it has a problem, invalid and
        described by its message (ARIA)."""
        found = dict(extra or {})
        if self.of(field) is not None:
            found.update({"aria-invalid": "true", "aria-describedby": f"{field}-error"})
        return found

    def __bool__(self) -> bool:
        return bool(self.items)

    def __iter__(self):
        return iter(self.items)


def check_vhs(problems: Problems, slug: str, field: str = "tenant") -> None:
    """The VHS must be chosen, and be one of the list."""
    if not slug:
        problems.add(field, NO_VHS)
    elif tenants.onboarded(slug) is None:
        problems.add(field, UNKNOWN_VHS)


def check_address(problems: Problems, typed: str, field: str = "email") -> None:
    """The address must be well-formed (what is wrong is said)."""
    found = addresses.problem(typed[:2000])
    if found is not None:
        problems.add(field, ADDRESS_MESSAGES[found])


def check_password(problems: Problems, password: str, field: str = "password") -> None:
    """A password must be typed, and not be absurdly long."""
    if not password:
        problems.add(field, NO_PASSWORD)
    elif len(password) > MAX_LENGTH:
        problems.add(field, PASSWORD_TOO_LONG)


PROMPT = lazy_gettext("Bitte VHS auswählen")


class VhsSelect(Select):
    """The VHS drop-down: the prompt, then every onboarded VHS in German order, place
    first ("Münster (vhs)", so that typing a town's first letters finds it without
    JavaScript), with its name and aliases for the combobox. The options' markup is made
    once per listing (``tenants.listed``), not for every page: WTForms' own widget spent
    40 ms a page on 1,000 options."""

    _made: tuple[object, str] | None = None

    def __call__(self, field, **kwargs):
        kwargs.setdefault("id", field.id)
        if field.flags.required and "required" not in kwargs:
            kwargs["required"] = True
        prompt = self.render_option(Choice("", str(PROMPT), not field.data, None))
        options = self.options()
        chosen = f' value="{field.data}">'  # "value" is the last attribute (sorted)
        if field.data and tenants.SLUG.match(field.data) and chosen in options:
            options = options.replace(chosen, f' selected value="{field.data}">', 1)
        return Markup(f"<select {html_params(name=field.name, **kwargs)}>{prompt}{options}"
                      "</select>")

    def options(self) -> str:
        """Every listed VHS as <option>, made anew only when the listing changed."""
        listing = tenants.listed()
        made = VhsSelect._made
        if made is None or made[0] is not listing:
            html = "".join(self._option(vhs) for vhs in listing)
            made = VhsSelect._made = (listing, html)
        return made[1]


    def _option(self, vhs: tenants.Listed) -> str:
        """The VHS's option; for a town with an umlaut a second one spelled out ("Koeln
        (vhs)" after "Köln (vhs)"), so that typing finds it without JavaScript (the
        combobox leaves it out: it folds umlauts itself)."""
        main = self.render_option(Choice(vhs.slug, vhs.place_first, False, {
            "data-name": vhs.name, **({"data-aliases": "|".join(vhs.aliases)}
                                      if vhs.aliases else {})}))
        spelled = tenants.spelled_out(vhs.place_first)
        if spelled == vhs.place_first:
            return main
        return main + self.render_option(Choice(vhs.slug, spelled, False,
                                                {"data-alias": "1"}))


def vhs_field() -> SelectField:
    """The VHS choice of the login and self-service forms, posted as ``tenant`` (relying
    parties and password managers know the name); the list is ``VhsSelect``'s."""
    return SelectField("VHS", name="tenant", validate_choice=False, widget=VhsSelect())


def preselected(hint: str | None) -> str:
    """The VHS to preselect: the relying party's hint, else the person's last choice."""
    return hint or request.cookies.get(LAST_VHS_COOKIE, "")[:63]


def remember_vhs(response: Response, slug: str) -> Response:
    """Keep the person's choice for the next visit (also after logging out)."""
    if slug and request.cookies.get(LAST_VHS_COOKIE) != slug:
        response.set_cookie(LAST_VHS_COOKIE, slug[:63], max_age=365 * 86400, path="/",
                            httponly=True, samesite="Lax",
                            secure=current_app.config["ISSUER"].startswith("https://"))
    return response
