from asyncbdd.hooks import install_hooks

install_hooks(globals())
