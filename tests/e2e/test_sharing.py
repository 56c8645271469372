"""Open file descriptions shared across the whole computation: a description
held by several processes comes back as one description, whoever the holders
are (siblings that passed it with SCM_RIGHTS, siblings that kept it after
their parent closed it, a grandparent and a grandchild whose parent closed it),
across two checkpoint --kill / restart cycles. Each program checks after the
restarts that a change made through one holder (an offset, status flags, a
timer's setting, an epoll's interest list, expirations read) is seen through
the others, which separate descriptions would not show."""


def test_file_passed_between_siblings(st):
    d = st.tmp / "rights"
    d.mkdir()
    st.zdtm("share_rights", d, nprocs=3)


def test_event_fds_kept_by_siblings(st):
    st.zdtm("share_event", nprocs=3)


def test_file_from_grandparent_through_closing_parent(st):
    d = st.tmp / "grand"
    d.mkdir()
    st.zdtm("share_grand", d, nprocs=3)
