"""What every handler needs: the app's parts, the caller, policy, pages."""
import datetime
import urllib.parse

import flask
import numpy as np
from oslo_policy import policy as oslo_policy

from dpiaas.api import errors
from dpiaas.db import exceptions as db_exc


def parts():
    """The :class:`dpiaas.api.app.Parts` of the current app."""
    return flask.current_app.extensions['dpiaas']


def context():
    return flask.g.context


def authorize(rule, target):
    """Enforce ``rule`` for the caller on ``target``; 403 if denied."""
    try:
        parts().enforcer.authorize(rule, target, context(), do_raise=True)
    except (oslo_policy.PolicyNotAuthorized, oslo_policy.InvalidScope):
        raise errors.forbidden('Policy does not allow %s.' % rule)


def is_admin():
    cached = flask.g.get('is_admin')
    if cached is None:
        cached = bool(parts().enforcer.authorize(
            'admin_api', {}, context(), do_raise=False))
        flask.g.is_admin = cached
    return cached


def own_project():
    """The caller's project; 403 for a token without one."""
    project = context().project_id
    if not project:
        raise errors.forbidden('A project-scoped token is required.')
    return project


def lookup_project():
    """Project filter of reads by id: None (any) for admins."""
    return None if is_admin() else own_project()


def list_project(query, rule):
    """Project filter of a list: the caller's, or every one on request."""
    if query.get('all_projects'):
        authorize(rule, {'project_id': context().project_id})
        return None
    return own_project()


def page_limit(query):
    conf = parts().conf.api
    limit = query.get('limit') or min(conf.default_limit, conf.max_limit)
    if limit > conf.max_limit:
        raise errors.bad_request('limit: %d is larger than the maximum of '
                                 '%d ([api] max_limit).'
                                 % (limit, conf.max_limit))
    return limit


def listing_marker(query, get, kind, project):
    """The ``marker`` of a listing, checked to be one of its items (a
    marker from another project or a deleted item is a 400, not a page
    that silently starts over)."""
    marker = query.get('marker')
    if marker:
        try:
            get(marker, project_id=project)
        except db_exc.NotFound:
            raise errors.bad_request('marker: %s %s is not in this '
                                     'listing.' % (kind, marker))
    return marker


def page(items, limit, query, marker_of=lambda item: item['id']):
    """``(page, next_url)`` from up to ``limit + 1`` items."""
    if len(items) <= limit:
        return items, None
    items = items[:limit]
    params = dict(flask.request.args)
    params['marker'] = marker_of(items[-1])
    params['limit'] = limit
    url = '%s?%s' % (flask.request.base_url,
                     urllib.parse.urlencode(sorted(params.items())))
    return items, url


def iso(ts):
    """Epoch seconds -> ISO 8601 UTC text (None stays None)."""
    if ts is None:
        return None
    dt = datetime.datetime.fromtimestamp(float(ts), datetime.timezone.utc)
    return dt.isoformat(timespec='microseconds').replace('+00:00', 'Z')


def iso_many(timestamps):
    """:func:`iso` of a whole series at once (numpy: 7,200 in ~2 ms)."""
    us = np.round(np.asarray(timestamps, dtype=float) * 1e6)
    text = np.datetime_as_string(us.astype('int64').astype('datetime64[us]'),
                                 unit='us')
    return [t + 'Z' for t in text.tolist()]


def collection(key, items, next_url=None):
    out = {key: items}
    if next_url:
        out['next'] = next_url
    return flask.jsonify(out)
