"""The studio's tabs, one module each: its handler(s) (named as the API's endpoints), its page and wiring.

``single`` (one painting, and the presets), ``multi`` (a blend of paintings, and the interpolation
between two), ``masked`` (paintings confined to regions), ``colour`` (the photo's colours kept),
``texture`` (a painting's texture from noise), ``explore`` (what each layer keeps, the trade-off) and
``video`` (a clip without flicker). Each ``build`` lays its tab out inside the page's ``gr.Blocks``.
"""
