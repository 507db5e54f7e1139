"""The style-transfer studio: a Gradio app over the ``nst`` engine (Gatys, Ecker & Bethge).

``python app.py`` serves ``studio.app.build_demo()``. Each tab (``studio.tabs``) is one way of using
the engine, with its inputs, settings and results:

* **Single style** - one photo, one painting: ``L = alpha L_content + beta L_style + gamma L_tv``;
  its presets (``studio.presets``) load a look, restore one from a result, save and push one;
* **Multiple styles** - up to four paintings whose Gram matrices are blended, ``A_l = sum_i w_i A_l^(i)``,
  and an interpolation sweep from style 1 to style 2, ``A_l(t) = (1 - t) A_l^(1) + t A_l^(2)``,
  rendered as a grid and a GIF;
* **Masked** - each painting confined to a region painted in the browser or uploaded as a mask
  (Gatys et al. 2017, guided Gram matrices ``G_l[m] = (F_l m_l)(F_l m_l)^T / sum(m_l)``);
* **Colour-preserving** - the photo's colours kept by luminance-only transfer, a colour swap in
  YUV / YCrCb / CIELAB / CIELUV, or histogram matching of the painting (Gatys et al. 2016);
* **Texture** - a painting's texture alone, synthesised from noise (``alpha = 0``);
* **Explore** - what each VGG-19 layer keeps (reconstructions from noise) and the ``beta / alpha``
  trade-off, as labelled grids;
* **Video** - a clip (GIF, MP4, WebM) stylised frame by frame without flicker (Ruder et al. 2016).

The parts: ``runtime`` (device, size and time limits, the shared model, the output folder), ``env``
(reading the host's environment variables), ``limits`` (the budgets a public host holds visitors to),
``inputs`` (upload checks), ``form`` (the settings controls, from ``nst.config.SPEC``), ``stream``
(the one run stream: progress, time left, preview, loss plot, Stop, time limit), ``jobs`` (each kind
of run as something the stream drives), ``outputs`` (the output panel and the record a result
carries), ``storage`` (the bounded output folder, writes that keep a result), ``wiring`` (Run,
examples, Continue, Stop), ``presets``, ``hub`` (the Hub without the host's credentials) and ``app``
(the page).

Every tab with a style weight shows a **Style strength** slider (``strength``, 0-100 %, 50 % the
engine's default beta, a decade of beta per 25 points), with alpha and beta under "Advanced": the
strength is a view of beta, so the API takes ``style_weight`` and a result records both.

The handlers are plain functions of images and numbers, named as the API's endpoints (``stylize``,
``stylize_multi``, ``interpolate``, ``stylize_masked``, ``stylize_color``, ``texture``, ``explore``,
``stylize_video``, ``stop``, ``load_preset``, ``restore_settings``, ``save_preset``, ``push_preset``);
tests call them directly. Importing any of this builds nothing: ``build_demo()`` does.
"""
