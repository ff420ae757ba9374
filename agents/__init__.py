"""Meta-learners (installed as ``metarl.agents``).

Agents arrive in later releases; see the README's roadmap.
"""
